/**
 * validate → plan → apply, on ports only (a registry store and a source schema probe), so the
 * CLI, the quickstart and tests share one path. Nothing is written unless every check passed:
 * a rejected definition leaves the registry untouched.
 */
import type { RegistrySnapshot } from '../core/registry-model.ts';
import type { Definitions } from '../definitions/model.ts';
import type { SourceSchemaProbe } from '../definitions/source-schema-probe.ts';
import { validateDefinitions } from '../definitions/validate.ts';
import { compileRegistry } from './compile.ts';
import { diffSnapshots, type Plan } from './diff.ts';
import type { RegistryReader, RegistryWriter } from './store.ts';

export interface WorkflowContext {
  /** Feature repository root. */
  repoDir: string;
  /** Project name from pitstop.yaml. */
  project: string;
  store: RegistryReader & RegistryWriter;
  /** DuckDB checks of expressions and source columns; default none (skipped). */
  probe?: SourceSchemaProbe;
  /** Clock for snapshot creation times; default now. */
  now?: () => Date;
}

export interface PlanResult {
  definitions: Definitions;
  previous: RegistrySnapshot | undefined;
  /** The snapshot an apply would write. */
  next: RegistrySnapshot;
  plan: Plan;
}

/** Validates the definitions and compiles them on top of the latest version (throws DEFINITION_INVALID). */
export async function planRepository(ctx: WorkflowContext): Promise<PlanResult> {
  const definitions = await validateDefinitions(ctx.repoDir, { probe: ctx.probe });
  const previous = await ctx.store.latest();
  const next = compileRegistry(definitions, { project: ctx.project, previous, now: ctx.now?.() });
  return { definitions, previous, next, plan: diffSnapshots(previous, next) };
}

export interface ApplyResult extends PlanResult {
  /** The version written, or undefined when the registry already matched the definitions. */
  applied?: RegistrySnapshot;
}

/**
 * Plans and, when anything changed (or nothing was ever applied), commits the next version.
 * Throws REGISTRY_CONFLICT when another apply wrote the same version first.
 */
export async function applyRepository(ctx: WorkflowContext): Promise<ApplyResult> {
  const result = await planRepository(ctx);
  if (result.previous && result.plan.changes.length === 0 && result.previous.project === ctx.project) return result;
  await ctx.store.commit(result.next);
  return { ...result, applied: result.next };
}
