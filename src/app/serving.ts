/**
 * Composition root for serving: registry store → snapshot holder (polling for new versions),
 * the configured online store (embedded by default, Redis when configured) as the reader, push
 * over its writer and the offline push log (DuckDB, opened on the first offline push), and the
 * gRPC + HTTP server. Closing runs in reverse order.
 */
import type { ResolvedConfig } from '../config/load.ts';
import { PitstopServer } from '../serving/server.ts';
import type { ServingMetrics } from '../serving/metrics.ts';
import type { PushFn } from '../serving/service.ts';
import { isPitstopError } from '../core/errors.ts';
import type { PushLog } from '../offline/ports.ts';
import { SnapshotHolder } from '../serving/snapshot-holder.ts';
import { PitstopError } from '../core/errors.ts';
import type { OnlineWriter } from '../online/ports.ts';
import { pushRows } from '../materialize/push.ts';
import { openOnlineStore, openPushLog, type OnlineStore } from './online.ts';
import { openRegistryStore } from './registry.ts';
import { loopbackAddress, warmUp } from './warmup.ts';

export interface StartServingOptions {
  /** Log sink; default stderr. */
  log?: (line: string) => void;
  /** /metrics text (cluster workers ask the primary to aggregate); default: this process. */
  metricsText?: (own: ServingMetrics) => Promise<string>;
  /** Builds the push function over the store's writer; default: `servingPush` with the configured push log. */
  push?: (store: OnlineStore) => PushFn;
}

export interface ServingHandle {
  server: PitstopServer;
  /** Graceful: drain (up to graceMs, default 10000), then close the store and the registry. */
  close(graceMs?: number): Promise<void>;
}

export async function startServing(config: ResolvedConfig, options: StartServingOptions = {}): Promise<ServingHandle> {
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const registry = await openRegistryStore(config);
  const closers: (() => Promise<void> | void)[] = [() => registry.close()];
  try {
    const holder = await SnapshotHolder.create(registry, { pollMs: config.serving.registry_poll_ms, log });
    closers.unshift(() => holder.close());
    const store = await openOnlineStore(config, { serving: true });
    closers.unshift(() => store.close());
    const s = config.serving;
    let push: PushFn;
    if (options.push) push = options.push(store);
    else {
      const sp = servingPush(store, () => openPushLog(config), config.paths.offlineData);
      closers.unshift(() => sp.close());
      push = sp.push;
    }
    // A warm-up needs the gRPC port and a registry version to look up; else there is nothing to warm.
    const snapshot = holder.current()?.snapshot;
    const warm = s.warmup_ms > 0 && s.grpc_port >= 0 && snapshot !== undefined;
    const server = await PitstopServer.start({
      warmingUp: warm,
      holder,
      reader: store,
      push,
      host: s.host,
      grpcPort: s.grpc_port,
      grpcTransport: s.grpc_transport,
      grpcConnections: {
        maxAgeMs: s.grpc_max_connection_age_ms,
        maxAgeGraceMs: s.grpc_max_connection_age_grace_ms,
        maxIdleMs: s.grpc_max_connection_idle_ms,
        keepaliveTimeMs: s.grpc_keepalive_time_ms,
        keepaliveTimeoutMs: s.grpc_keepalive_timeout_ms,
      },
      httpPort: s.http_port,
      limits: { maxEntities: s.max_entities, maxFeatures: s.max_features, maxMessageBytes: s.max_message_bytes },
      log,
      metricsText: options.metricsText,
    });
    if (!holder.current()) log('no registry version applied yet: not ready until `pitstop apply` runs (polling)');
    if (warm) {
      // Best effort: whatever happens, the server goes on to serve.
      try {
        const r = await warmUp(loopbackAddress(s.host, server.grpcPort), snapshot, s.warmup_ms, s.max_entities);
        log(`warmed up: ${r.calls} lookups of its own in ${r.ms} ms${r.failed > 0 ? ` (${r.failed} failed)` : ''}; ready`);
      } catch (e) {
        log(`warm-up failed, serving without it: ${(e as Error)?.message ?? String(e)}`);
      }
      server.warmedUp();
    }
    return {
      server,
      async close(graceMs?: number) {
        await server.close(graceMs);
        for (const c of closers) await c();
      },
    };
  } catch (e) {
    for (const c of closers) await c();
    throw e;
  }
}

/** Push over the serving endpoints, online only: an offline push fails PUSH_LOG_UNAVAILABLE. */
export function pushToOnline(writer: OnlineWriter): PushFn {
  return servingPush(writer).push;
}

/**
 * Push over the serving endpoints: column-wise rows → `pushRows` (the same checks as `pitstop
 * push`: the whole batch is validated before anything is written). With `toOffline` the batch is
 * appended to the offline push log FIRST (one Parquet file, renamed into place whole), then
 * written online in one atomic call. So:
 * - the log cannot be opened or written → PUSH_LOG_UNAVAILABLE, nothing written anywhere (a
 *   half-written temp file is removed);
 * - the log was written but the online write fails → ONLINE_STORE_UNAVAILABLE with the batch in
 *   the log and not online; pushing it again is safe (the point-in-time join treats the repeated
 *   rows, same keys and timestamps, as one).
 * The log (a DuckDB session) is opened on the first offline push and kept; appends run one at a
 * time. A failed open is retried by the next offline push.
 */
export function servingPush(writer: OnlineWriter, openLog?: () => Promise<PushLog>, where = 'the offline data dir'): { push: PushFn; close(): Promise<void> } {
  let opened: Promise<PushLog> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const unavailable = (e: unknown, what: string) =>
    isPitstopError(e) && e.reason === 'PUSH_LOG_UNAVAILABLE' ? e : new PitstopError('PUSH_LOG_UNAVAILABLE', `offline push log under ${where}: ${what} failed: ${(e as Error)?.message ?? String(e)}; nothing was written online`, { cause: e });
  const log = (): Promise<PushLog> => {
    if (!openLog) return Promise.reject(new PitstopError('PUSH_LOG_UNAVAILABLE', 'this server has no offline push log; nothing was written online'));
    opened ??= openLog().catch((e) => {
      opened = undefined;
      throw unavailable(e, 'open');
    });
    return opened;
  };
  const pushLog: PushLog = {
    append(view, rows) {
      const run = queue.then(async () => {
        const l = await log();
        try {
          return await l.append(view, rows);
        } catch (e) {
          throw unavailable(e, 'append');
        }
      });
      queue = run.catch(() => {});
      return run;
    },
    async close() {},
  };
  const push: PushFn = async (snapshot, view, columns, options) => {
    const names = Object.keys(columns);
    let n = -1;
    for (const name of names) {
      const col = columns[name];
      if (!Array.isArray(col)) throw new PitstopError('PUSH_ROWS_INVALID', `columns.${name} must be a list of values`);
      if (n >= 0 && col.length !== n) throw new PitstopError('PUSH_ROWS_INVALID', `push columns differ in length: ${names[0]} has ${n} values, ${name} has ${col.length}`);
      n = col.length;
    }
    const rows = Array.from({ length: Math.max(n, 0) }, (_, i) => Object.fromEntries(names.map((name) => [name, columns[name][i]])));
    const toOffline = options.toOffline === true;
    const r = await pushRows(snapshot, view, rows, { online: writer, toOffline, pushLog: toOffline ? pushLog : undefined, base64Bytes: options.base64Bytes === true });
    return { written: r.written, stale: r.stale, offlineRows: r.offlineFile ? r.rows : 0 };
  };
  return {
    push,
    async close() {
      const l = opened;
      opened = undefined;
      await queue;
      if (l) await (await l.catch(() => undefined))?.close();
    },
  };
}
