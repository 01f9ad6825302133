/**
 * Loads pitstop.yaml from a feature repository, applies environment overrides (read here and
 * nowhere else), validates, resolves paths against the repository root and freezes the result.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PitstopError, type Problem } from '../core/errors.ts';
import { ConfigSchema, type Config } from './schema.ts';

export const CONFIG_FILE = 'pitstop.yaml';

/** Environment variables pitstop reads; all optional. */
export const ENV_OVERRIDES = {
  /** Switches the online store to Redis at this URL. */
  PITSTOP_REDIS_URL: 'online_store = { type: redis, url }',
  /** Comma-separated `host:port` seeds: switches the online store to a Redis Cluster. */
  PITSTOP_REDIS_CLUSTER_NODES: 'online_store = { type: redis, cluster_nodes }',
  PITSTOP_GRPC_PORT: 'serving.grpc_port',
  PITSTOP_HTTP_PORT: 'serving.http_port',
} as const;

export interface ResolvedConfig extends Config {
  /** Absolute path of the feature repository root. */
  repoDir: string;
  /** Absolute paths derived from the repository root. */
  paths: {
    definitions: string;
    registry: string;
    offlineData: string;
    tempDirectory: string;
    /** Embedded online store directory (meaningful when online_store.type is embedded). */
    embeddedOnline: string;
  };
}

export async function loadConfig(repoDir: string, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedConfig> {
  const root = path.resolve(repoDir);
  const file = path.join(root, CONFIG_FILE);
  if (!existsSync(file)) {
    throw new PitstopError('CONFIG_NOT_FOUND', `no ${CONFIG_FILE} in ${root} (is --repo pointing at a feature repository?)`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, 'utf8')) ?? {};
  } catch (e) {
    throw new PitstopError('CONFIG_INVALID', `${CONFIG_FILE}: ${(e as Error).message}`, { cause: e });
  }
  return resolveConfig(root, applyEnv(raw, env));
}

/** Validate an already-parsed config object (tests build configs in memory through this). */
export function resolveConfig(repoDir: string, raw: unknown): ResolvedConfig {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems: Problem[] = parsed.error.issues.map((i) => ({
      file: CONFIG_FILE,
      path: i.path.map(String).join('.') || undefined,
      message: i.message,
    }));
    throw new PitstopError('CONFIG_INVALID', `${CONFIG_FILE} is invalid`, { problems });
  }
  const c = parsed.data;
  const root = path.resolve(repoDir);
  const at = (p: string) => path.resolve(root, p);
  return deepFreeze({
    ...c,
    repoDir: root,
    paths: {
      definitions: at('definitions'),
      registry: at(c.registry.path),
      offlineData: at(c.offline.data_dir),
      tempDirectory: at(c.offline.temp_directory),
      embeddedOnline: at(c.online_store.type === 'embedded' ? c.online_store.path : '.pitstop/online'),
    },
  });
}

function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  const c: Record<string, any> = raw && typeof raw === 'object' ? structuredClone(raw as object) : {};
  const port = (name: string): number => {
    const v = env[name]!;
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new PitstopError('CONFIG_INVALID', `${name}="${v}" is not a port number`);
    return Number(v);
  };
  if (env.PITSTOP_REDIS_CLUSTER_NODES) {
    const prior = c.online_store?.type === 'redis' ? c.online_store : {};
    c.online_store = { ...prior, type: 'redis', cluster_nodes: env.PITSTOP_REDIS_CLUSTER_NODES.split(',').map((s) => s.trim()) };
  } else if (env.PITSTOP_REDIS_URL) {
    const prior = c.online_store?.type === 'redis' ? c.online_store : {};
    c.online_store = { ...prior, type: 'redis', url: env.PITSTOP_REDIS_URL };
  }
  if (env.PITSTOP_GRPC_PORT || env.PITSTOP_HTTP_PORT) c.serving = { ...(c.serving ?? {}) };
  if (env.PITSTOP_GRPC_PORT) c.serving.grpc_port = port('PITSTOP_GRPC_PORT');
  if (env.PITSTOP_HTTP_PORT) c.serving.http_port = port('PITSTOP_HTTP_PORT');
  return c;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
