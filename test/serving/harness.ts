/**
 * Starts a PitstopServer on port 0 over a real online store (Redis from the harness, or the
 * embedded store in a temp dir), with the serving fixture's rows written, plus a client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RegistrySnapshot } from '../../src/core/registry-model.ts';
import type { OnlineReader, OnlineWriter } from '../../src/online/ports.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { EmbeddedOnlineStore } from '../../src/online/embedded/embedded-store.ts';
import { PitstopServer } from '../../src/serving/server.ts';
import { SnapshotHolder } from '../../src/serving/snapshot-holder.ts';
import type { PushFn, ServingLimits } from '../../src/serving/service.ts';
import { PitstopClient } from '../../src/client/client.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { servingRows, servingSnapshot } from './fixture.ts';

export const LIMITS: ServingLimits = { maxEntities: 50, maxFeatures: 20, maxMessageBytes: 64 * 1024 };

export interface Harness {
  redis?: RedisServer;
  store: OnlineReader & OnlineWriter;
  holder: SnapshotHolder;
  server: PitstopServer;
  client: PitstopClient;
  http: string;
  snapshot: RegistrySnapshot;
  close(): Promise<void>;
}

export async function startHarness(options: { store: 'redis' | 'embedded'; nearCacheBytes?: number; redisArgs?: string[]; log?: (line: string) => void; reader?: (store: OnlineReader) => OnlineReader; push?: (store: OnlineWriter) => PushFn; warmingUp?: boolean; snapshot?: (s: RegistrySnapshot) => RegistrySnapshot } = { store: 'redis' }): Promise<Harness> {
  const snapshot = options.snapshot ? options.snapshot(servingSnapshot()) : servingSnapshot();
  let redis: RedisServer | undefined;
  let dir: string | undefined;
  let store: OnlineReader & OnlineWriter;
  if (options.store === 'redis') {
    redis = await startRedis({ args: options.redisArgs });
    store = await RedisOnlineStore.create({ url: redis.url, project: 'test', commandTimeoutMs: 300, connectTimeoutMs: 300, nearCacheBytes: options.nearCacheBytes });
  } else {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-serving-'));
    store = await EmbeddedOnlineStore.create({ dir });
  }
  await store.writeRows(servingRows(snapshot));
  const holder = SnapshotHolder.fixed(snapshot, { log: () => {} });
  const server = await PitstopServer.start({
    holder,
    reader: options.reader ? options.reader(store) : store,
    push: options.push?.(store),
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    limits: LIMITS,
    log: options.log ?? (() => {}),
    warmingUp: options.warmingUp,
  });
  const client = new PitstopClient(`127.0.0.1:${server.grpcPort}`);
  return {
    redis,
    store,
    holder,
    server,
    client,
    http: `http://127.0.0.1:${server.httpPort}`,
    snapshot,
    async close() {
      client.close();
      await server.close(1000);
      holder.close();
      await store.close();
      await redis?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** POST JSON, returning status and parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** A gate around a real reader: reads wait until `release()` (in-flight tests). */
export function gatedReader(inner: OnlineReader): OnlineReader & { hold(): void; release(): void; waiting(): number } {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let waiting = 0;
  const pass = async () => {
    if (gate) {
      waiting++;
      await gate;
      waiting--;
    }
  };
  return {
    async readRows(batch, options) {
      await pass();
      return inner.readRows(batch, options);
    },
    async readSpans(batch, spans, options) {
      await pass();
      return inner.readSpans(batch, spans, options);
    },
    ping: () => inner.ping(),
    close: () => inner.close(),
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release() {
      open?.();
      gate = undefined;
    },
    waiting: () => waiting,
  };
}
