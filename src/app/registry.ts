/**
 * Composition root for the registry: picks the registry store adapter from pitstop.yaml
 * (`registry.type`, a static map) and loads snapshots. Every other layer asks for a store or a
 * snapshot here and never names the adapter.
 */
import type { ResolvedConfig } from '../config/load.ts';
import { PitstopError } from '../core/errors.ts';
import type { RegistrySnapshot } from '../core/registry-model.ts';
import type { SourceSchemaProbe } from '../definitions/source-schema-probe.ts';
import { FileRegistryStore } from '../registry/file-store.ts';
import type { WorkflowContext } from '../registry/workflow.ts';
import type { RegistryStore } from '../registry/store.ts';

type RegistryType = ResolvedConfig['registry']['type'];

const ADAPTERS: Record<RegistryType, (config: ResolvedConfig) => Promise<RegistryStore>> = {
  file: (config) => FileRegistryStore.create(config.paths.registry),
};

/** Opens the configured registry store (creating its directory when needed). Close it when done. */
export async function openRegistryStore(config: ResolvedConfig): Promise<RegistryStore> {
  return ADAPTERS[config.registry.type](config);
}

/**
 * Loads one registry snapshot: `version`, or the latest when absent. Throws REGISTRY_EMPTY when
 * nothing was applied yet and REGISTRY_VERSION_NOT_FOUND for a missing version. Opens and closes
 * a store per call: a long-running process that polls should keep one store from
 * `openRegistryStore` (it caches verified versions; `latest()` then costs one directory read).
 */
export async function loadSnapshot(config: ResolvedConfig, version?: number): Promise<RegistrySnapshot> {
  const store = await openRegistryStore(config);
  try {
    if (version !== undefined) return await store.get(version);
    const latest = await store.latest();
    if (!latest) throw new PitstopError('REGISTRY_EMPTY', `no registry version has been applied in ${config.paths.registry} yet (run pitstop apply)`);
    return latest;
  } finally {
    await store.close();
  }
}

/** DuckDB-backed checks of feature expressions and source columns, for validate/plan/apply. */
export async function openSourceSchemaProbe(config: ResolvedConfig): Promise<SourceSchemaProbe> {
  // Imported here, not at the top: the registry store is also what `pitstop serve` opens, and
  // serving has no use for DuckDB.
  const { DuckDbSourceProbe } = await import('../registry/duckdb-source-probe.ts');
  return DuckDbSourceProbe.create(config.repoDir);
}

/** Runs `fn` with the workflow context (store + probe) of a repository and closes both after. */
export async function withRegistryWorkflow<T>(config: ResolvedConfig, fn: (ctx: WorkflowContext) => Promise<T>): Promise<T> {
  const store = await openRegistryStore(config);
  let probe: SourceSchemaProbe | undefined;
  try {
    probe = await openSourceSchemaProbe(config);
    return await fn({ repoDir: config.repoDir, project: config.project, store, probe });
  } finally {
    await probe?.close();
    await store.close();
  }
}
