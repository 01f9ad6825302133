/**
 * `pitstop serve [--workers N]`: online serving over gRPC and HTTP. N worker processes (default:
 * the number of cores) share the ports through node:cluster, started with the node flags
 * serving needs (`serverNodeFlags`: `--no-memory-reducer`, `--initial-old-space-size=64`).
 * `--workers 1` serves in this process when it already has those flags (or the config asks for
 * none), else in one worker process. The store is the embedded one by default, Redis when pitstop.yaml or
 * PITSTOP_REDIS_URL says so. SIGTERM / SIGINT shut down gracefully (NOT_SERVING, drain, close).
 * /metrics in cluster mode is aggregated over all workers by the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { startServing } from '../../app/serving.ts';
import { loadConfig } from '../../config/load.ts';
import { PitstopError } from '../../core/errors.ts';
import type { Command, CommandContext } from '../command.ts';

type Msg =
  | { type: 'pitstop:ready' }
  | { type: 'pitstop:metrics-req'; id: number }
  | { type: 'pitstop:metrics-res'; id: number; text: string }
  | { type: 'pitstop:metrics-json-req'; id: number }
  | { type: 'pitstop:metrics-json-res'; id: number; metrics: unknown[] }
  | { type: 'pitstop:shutdown' };

/** How long the primary waits for workers' metrics before answering with those that came. */
const METRICS_TIMEOUT_MS = 2000;

function waitForSignal(extra?: (stop: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    extra?.(stop);
  });
}

/** Where an in-process server listens, once it does. */
export interface ServingInfo {
  /** Configured listen address (`serving.host`). */
  host: string;
  grpcPort: number;
  httpPort: number;
  storeType: string;
}

export interface ServeInProcessOptions {
  /** Environment for config overrides (PITSTOP_GRPC_PORT, ...); default ctx.env. */
  env?: NodeJS.ProcessEnv;
  /** Log line prefix on stderr; default `pitstop serve`. */
  logPrefix?: string;
  /** Called once both listeners are bound (ports resolved when 0 was asked for). */
  onListening?: (info: ServingInfo) => void;
  /** Internal: this process is a cluster worker of `pitstop serve --workers N`. */
  worker?: boolean;
}

/**
 * Serves gRPC + HTTP in this process (the configured store, registry polling) until SIGTERM or
 * SIGINT, then shuts down gracefully (NOT_SERVING, drain, close) and returns exit code 0.
 * `pitstop serve --workers 1`, each cluster worker and `pitstop quickstart` all run this.
 */
export async function serveInProcess(ctx: CommandContext, options: ServeInProcessOptions = {}): Promise<number> {
  const worker = options.worker === true;
  const config = await loadConfig(ctx.repoDir, options.env ?? ctx.env);
  const prefix = options.logPrefix ?? 'pitstop serve';
  const log = (l: string) => ctx.stderr.write(`${prefix}${worker ? ` [${process.pid}]` : ''}: ${l}\n`);
  let seq = 0;
  const pending = new Map<number, (text: string) => void>();
  let ownRegistry: { getMetricsAsJSON(): Promise<unknown[]> } | undefined;
  if (worker) {
    process.on('message', (m: Msg) => {
      if (m?.type === 'pitstop:metrics-res') pending.get(m.id)?.(m.text);
      else if (m?.type === 'pitstop:metrics-json-req' && ownRegistry) {
        void ownRegistry.getMetricsAsJSON().then((metrics) => process.send!({ type: 'pitstop:metrics-json-res', id: m.id, metrics } satisfies Msg));
      }
    });
  }
  const handle = await startServing(config, {
    log,
    metricsText: worker
      ? (own) => {
          // The primary collects every ready worker's registry over IPC and aggregates.
          void own;
          return new Promise((resolve) => {
            const id = ++seq;
            pending.set(id, (text) => {
              pending.delete(id);
              resolve(text);
            });
            process.send!({ type: 'pitstop:metrics-req', id } satisfies Msg);
          });
        }
      : undefined,
  });
  if (worker) {
    ownRegistry = handle.server.metrics.registry;
    // Only now does the primary ask this worker for metrics (a message sent to a worker that is
    // still loading would be lost and stall the aggregation).
    process.send!({ type: 'pitstop:ready' } satisfies Msg);
  }
  const s = config.serving;
  const near = config.online_store.type === 'redis' && config.online_store.near_cache_mb > 0 ? ` with a ${config.online_store.near_cache_mb} MB near cache` : '';
  log(`gRPC on ${s.host}:${handle.server.grpcPort}, HTTP on ${s.host}:${handle.server.httpPort}, online store ${config.online_store.type}${near}`);
  options.onListening?.({ host: s.host, grpcPort: handle.server.grpcPort, httpPort: handle.server.httpPort, storeType: config.online_store.type });
  await waitForSignal((stop) => {
    if (worker) process.on('message', (m: Msg) => m?.type === 'pitstop:shutdown' && stop());
  });
  log('shutting down: draining in-flight requests');
  await handle.close();
  // A worker's IPC channel would keep it alive; let it go so the process exits.
  if (worker) process.disconnect?.();
  return 0;
}

async function servePrimary(ctx: CommandContext, workers: number, nodeFlags: readonly string[]): Promise<number> {
  const log = (l: string) => ctx.stderr.write(`pitstop serve: ${l}\n`);
  if (nodeFlags.length > 0) cluster.setupPrimary({ execArgv: [...process.execArgv, ...nodeFlags] });
  let stopping = false;
  const ready = new Set<Worker>();
  let seq = 0;
  const collecting = new Map<number, (worker: Worker, metrics: unknown[]) => void>();

  /** Every ready worker's metrics, aggregated (sums per series); slow workers are left out after a timeout. */
  const aggregate = (): Promise<string> =>
    new Promise((resolve) => {
      const id = ++seq;
      const asked = [...ready].filter((w) => w.isConnected());
      const got: unknown[][] = [];
      const finish = () => {
        collecting.delete(id);
        clearTimeout(timer);
        const missing = asked.length - got.length;
        const text = AggregatorRegistry.aggregate(got as never).metrics();
        void Promise.resolve(text).then((t) => resolve(missing > 0 ? `# ${missing} worker(s) did not answer in time\n${t}` : t));
      };
      const timer = setTimeout(finish, METRICS_TIMEOUT_MS);
      collecting.set(id, (_w, metrics) => {
        got.push(metrics);
        if (got.length === asked.length) finish();
      });
      if (asked.length === 0) finish();
      for (const w of asked) w.send({ type: 'pitstop:metrics-json-req', id } satisfies Msg);
    });

  const fork = (): Worker => {
    const w = cluster.fork();
    w.on('message', (m: Msg) => {
      if (m?.type === 'pitstop:ready') {
        ready.add(w);
        if (ready.size === workers) log(`all ${workers} workers ready`);
      } else if (m?.type === 'pitstop:metrics-json-res') collecting.get(m.id)?.(w, m.metrics);
      else if (m?.type === 'pitstop:metrics-req') {
        aggregate().then(
          (text) => w.send({ type: 'pitstop:metrics-res', id: m.id, text } satisfies Msg),
          (e) => w.send({ type: 'pitstop:metrics-res', id: m.id, text: `# metrics aggregation failed: ${(e as Error).message}\n` } satisfies Msg),
        );
      }
    });
    w.once('exit', () => ready.delete(w));
    return w;
  };
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    log(`worker ${w.process.pid} exited (${signal ?? code}); starting a new one`);
    fork();
  });
  log(`starting ${workers} worker${workers === 1 ? '' : 's'}${nodeFlags.length > 0 ? ` (node ${nodeFlags.join(' ')})` : ''}`);
  for (let i = 0; i < workers; i++) fork();
  await waitForSignal();
  stopping = true;
  log('shutting down workers');
  const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => Boolean(w && !w.isDead()));
  await Promise.all(
    live.map(
      (w) =>
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => w.kill('SIGKILL'), 15_000);
          w.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          w.send({ type: 'pitstop:shutdown' } satisfies Msg);
        }),
    ),
  );
  return 0;
}

/**
 * Node flags the serving processes need and this process was not started with:
 * `--no-memory-reducer` unless `serving.gc_memory_reducer` is true,
 * `--no-allocation-site-pretenuring` unless `serving.gc_pretenuring` is true, and
 * `--initial-old-space-size=<serving.gc_initial_old_space_mb>` unless that is 0 (or the process
 * already has an `--initial-old-space-size`). V8 reads them when the heap is set up
 * (v8.setFlagsFromString at run time did not stop the reducer: `--trace-gc` still showed a
 * "(reduce)" mark-compact), and node refuses `--no-memory-reducer` in NODE_OPTIONS, so the
 * workers are started with them. Why: docs/serving.md#runtime-settings.
 */
export function serverNodeFlags(serving: { gc_memory_reducer: boolean; gc_initial_old_space_mb: number; gc_pretenuring: boolean }, execArgv: readonly string[]): string[] {
  const flags: string[] = [];
  if (!serving.gc_memory_reducer && !execArgv.includes('--no-memory-reducer')) flags.push('--no-memory-reducer');
  if (!serving.gc_pretenuring && !execArgv.includes('--no-allocation-site-pretenuring')) flags.push('--no-allocation-site-pretenuring');
  if (serving.gc_initial_old_space_mb > 0 && !execArgv.some((a) => a.startsWith('--initial-old-space-size'))) {
    flags.push(`--initial-old-space-size=${serving.gc_initial_old_space_mb}`);
  }
  return flags;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve online features over gRPC and HTTP (embedded store by default, Redis when configured).',
  usage: '[--workers N] [--grpc-port PORT] [--http-port PORT]',
  options: {
    workers: { type: 'string' },
    'grpc-port': { type: 'string' },
    'http-port': { type: 'string' },
  },
  async run(ctx, args) {
    const env = { ...ctx.env };
    if (typeof args.values['grpc-port'] === 'string') env.PITSTOP_GRPC_PORT = args.values['grpc-port'];
    if (typeof args.values['http-port'] === 'string') env.PITSTOP_HTTP_PORT = args.values['http-port'];
    if (cluster.isWorker) return serveInProcess(ctx, { env, worker: true });
    const raw = args.values.workers;
    const workers = raw === undefined ? os.availableParallelism() : Number(raw);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
      throw new PitstopError('USAGE', `--workers must be a whole number from 1 to 256, got "${String(raw)}"`);
    }
    // Load the config once here so that a bad pitstop.yaml fails before any worker starts.
    const config = await loadConfig(ctx.repoDir, env);
    const flags = serverNodeFlags(config.serving, process.execArgv);
    // One worker serves in this process unless it needs node flags this process lacks.
    return workers === 1 && flags.length === 0 ? serveInProcess(ctx, { env }) : servePrimary(ctx, workers, flags);
  },
};
