/**
 * Redis Cluster specifics on a real 3-master cluster: one read is one pipeline per node (keys
 * grouped by slot owner), writes land on every node, and record keys use the entity hash tag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { startRedisCluster, type RedisCluster } from '../support/redis-server.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { keySlot } from '../../src/online/redis/key-slot.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';

let cluster: RedisCluster;
let store: RedisOnlineStore;
const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const keys = [{ name: 'id', type: 'int64' as const }];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  store = await RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'c', commandTimeoutMs: 400 });
});
afterAll(async () => {
  await store?.close();
  await cluster?.stop();
});

describe('redis cluster', () => {
  it('computes the same slot as the server for hash-tagged binary keys', async () => {
    const client = store.redis as Cluster;
    for (const id of [0, 1, 125, 1001, -7, 2 ** 40]) {
      const key = store.recordKeys.key(encodeEntityKey(keys, [id]));
      expect(keySlot(key)).toBe(await client.cluster('KEYSLOT', key));
    }
  });

  it('reads many entities with one pipeline per node', async () => {
    const client = store.redis as Cluster;
    const ids = Array.from({ length: 300 }, (_, i) => i);
    const entities = ids.map((i) => encodeEntityKey(keys, [i]));
    await store.writeRows(entities.map((entity, i) => ({ view: 'v@1', entity, row: Buffer.from(enc.encode(i, null, [BigInt(i)])) })));
    // Every master holds some of the records.
    const perNode = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
    expect(perNode.every((n) => n > 0)).toBe(true);
    const original = client.pipeline.bind(client);
    let pipelines = 0;
    (client as { pipeline: typeof client.pipeline }).pipeline = ((...a: Parameters<typeof client.pipeline>) => {
      pipelines++;
      return original(...a);
    }) as typeof client.pipeline;
    try {
      const rows = await store.readRows({ views: ['v@1', 'w@1'], entityKeys: [entities, entities] });
      expect(rows[0].every((r, i) => r !== null && r.readDoubleLE(1) === i)).toBe(true);
      expect(rows[1].every((r) => r === null)).toBe(true);
      expect(pipelines).toBe(3);
    } finally {
      (client as { pipeline: typeof client.pipeline }).pipeline = original;
    }
  });

  it('a hung node fails the read within the command timeout, and reads recover when it answers again', async () => {
    const entities = Array.from({ length: 60 }, (_, i) => encodeEntityKey(keys, [i]));
    cluster.pauseNode(1);
    try {
      const t0 = Date.now();
      await expect(store.readRows({ views: ['v@1'], entityKeys: [entities] })).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      cluster.resumeNode(1);
    }
    const rows = await store.readRows({ views: ['v@1'], entityKeys: [entities] });
    expect(rows[0]).toHaveLength(60);
  });
});
