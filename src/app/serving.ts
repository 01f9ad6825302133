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
import { openOnlineStore, type OnlineStore } from './online.ts';
import { openRegistryStore } from './registry.ts';

export interface StartServingOptions {
  /** Log sink; default stderr. */
  log?: (line: string) => void;
  /** /metrics text (cluster workers ask the primary to aggregate); default: this process. */
  metricsText?: (own: ServingMetrics) => Promise<string>;
  /** Builds the push function over the store's writer; default: pushes are refused. */
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
      push: options.push?.(store),
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
