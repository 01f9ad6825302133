/**
 * A server started before any registry version was applied: it runs but is not ready (readyz 503,
 * health NOT_SERVING, lookups FAILED_PRECONDITION / REGISTRY_EMPTY), and becomes ready by itself
 * once a version is committed to the real file registry (the holder polls it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { FileRegistryStore } from '../../src/registry/file-store.ts';
import { EmbeddedOnlineStore } from '../../src/online/embedded/embedded-store.ts';
import { PitstopServer } from '../../src/serving/server.ts';
import { SnapshotHolder } from '../../src/serving/snapshot-holder.ts';
import { PitstopClient, type PitstopCallError } from '../../src/client/client.ts';
import { servingRows, servingSnapshot } from './fixture.ts';
import { LIMITS } from './harness.ts';

describe('serving before the first registry version', () => {
  it('is not ready until a version is applied, then serves it without a restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-empty-'));
    const registry = await FileRegistryStore.create(path.join(dir, 'registry'));
    const store = await EmbeddedOnlineStore.create({ dir: path.join(dir, 'online') });
    const holder = await SnapshotHolder.create(registry, { pollMs: 50, log: () => {} });
    const server = await PitstopServer.start({ holder, reader: store, host: '127.0.0.1', grpcPort: 0, httpPort: 0, limits: LIMITS, log: () => {} });
    const client = new PitstopClient(`127.0.0.1:${server.grpcPort}`);
    const http = `http://127.0.0.1:${server.httpPort}`;
    try {
      const notReady = await fetch(`${http}/readyz`);
      expect([notReady.status, ((await notReady.json()) as { reason: string }).reason]).toEqual([503, 'REGISTRY_EMPTY']);
      expect(await client.health()).toBe('NOT_SERVING');
      let err: PitstopCallError | undefined;
      await client.getOnlineFeatures({ featureService: 'ranking', entities: { driver_id: [1] } }).catch((e) => (err = e));
      expect([err?.code, err?.reason]).toEqual([GrpcStatus.FAILED_PRECONDITION, 'REGISTRY_EMPTY']);

      const snapshot = servingSnapshot();
      await store.writeRows(servingRows(snapshot));
      await registry.commit(snapshot);
      for (let i = 0; i < 100 && (await client.health()) !== 'SERVING'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await client.health()).toBe('SERVING');
      expect((await fetch(`${http}/readyz`)).status).toBe(200);
      const r = await client.getOnlineFeatures({ featureService: 'ranking', entities: { driver_id: [1] } });
      expect(r.column('trips_today').values).toEqual([12n]);
    } finally {
      client.close();
      await server.close(1000);
      holder.close();
      await store.close();
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
