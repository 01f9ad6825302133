/**
 * Composition root for serving: registry store → snapshot holder (polling for new versions),
 * the configured online store (embedded by default, Redis when configured) as the reader, push
 * over its writer, and the gRPC + HTTP server. Closing runs in reverse order.
 */
import type { ResolvedConfig } from '../config/load.ts';
import { PitstopServer } from '../serving/server.ts';
import type { ServingMetrics } from '../serving/metrics.ts';
import type { PushFn } from '../serving/service.ts';
import { SnapshotHolder } from '../serving/snapshot-holder.ts';
import { PitstopError } from '../core/errors.ts';
import type { OnlineWriter } from '../online/ports.ts';
import { pushRows } from '../materialize/push.ts';
import { openOnlineStore, type OnlineStore } from './online.ts';
import { openRegistryStore } from './registry.ts';

export interface StartServingOptions {
  /** Log sink; default stderr. */
  log?: (line: string) => void;
  /** /metrics text (cluster workers ask the primary to aggregate); default: this process. */
  metricsText?: (own: ServingMetrics) => Promise<string>;
  /** Builds the push function over the store's writer; default: `pushToOnline`. */
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
    const store = await openOnlineStore(config);
    closers.unshift(() => store.close());
    const s = config.serving;
    const server = await PitstopServer.start({
      holder,
      reader: store,
      push: (options.push ?? pushToOnline)(store),
      host: s.host,
      grpcPort: s.grpc_port,
      httpPort: s.http_port,
      limits: { maxEntities: s.max_entities, maxFeatures: s.max_features, maxMessageBytes: s.max_message_bytes },
      log,
      metricsText: options.metricsText,
    });
    if (!holder.current()) log('no registry version applied yet: not ready until `pitstop apply` runs (polling)');
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

/**
 * Push over the serving endpoints: column-wise rows → `pushRows` (the same checks as `pitstop
 * push`: the whole batch is validated before anything is written), online only (the offline
 * push log is written by `pitstop push --offline`).
 */
export function pushToOnline(writer: OnlineWriter): PushFn {
  return async (snapshot, view, columns) => {
    const names = Object.keys(columns);
    let n = -1;
    for (const name of names) {
      const col = columns[name];
      if (!Array.isArray(col)) throw new PitstopError('PUSH_ROWS_INVALID', `columns.${name} must be a list of values`);
      if (n >= 0 && col.length !== n) throw new PitstopError('PUSH_ROWS_INVALID', `push columns differ in length: ${names[0]} has ${n} values, ${name} has ${col.length}`);
      n = col.length;
    }
    const rows = Array.from({ length: Math.max(n, 0) }, (_, i) => Object.fromEntries(names.map((name) => [name, columns[name][i]])));
    const r = await pushRows(snapshot, view, rows, { online: writer });
    return { written: r.written, stale: r.stale };
  };
}
