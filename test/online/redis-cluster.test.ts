/**
 * Redis Cluster specifics on a real 3-master cluster: one read is one read-script call per node
 * (keys grouped by slot owner; a stale slot map falls back to redirected MGETs), writes land on
 * every node, and row keys use the entity hash tag.
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
      const entity = encodeEntityKey(keys, [id]);
      const key = store.rowKeys.key('v@1', entity);
      const server = await client.cluster('KEYSLOT', key);
      expect(keySlot(key)).toBe(server);
      expect(store.rowKeys.slot(entity)).toBe(server); // written into a reused buffer
      expect(await client.cluster('KEYSLOT', store.rowKeys.key('another_view@12', entity))).toBe(server); // every view of an entity: one slot
    }
    // string keys, longer than the reused buffer's first size, and a '}' inside the entity bytes
    for (const name of ['a', 'x'.repeat(300), 'a}b', 'y'.repeat(1000)]) {
      const entity = encodeEntityKey([{ name: 'n', type: 'string' }], [name]);
      expect(store.rowKeys.slot(entity)).toBe(await client.cluster('KEYSLOT', store.rowKeys.key('v@1', entity)));
    }
  });

  it('reads many entities with one read-script call per node', async () => {
    const client = store.redis as Cluster;
    const ids = Array.from({ length: 300 }, (_, i) => i);
    const entities = ids.map((i) => encodeEntityKey(keys, [i]));
    await store.writeRows(entities.map((entity, i) => ({ view: 'v@1', entity, row: Buffer.from(enc.encode(i, null, [BigInt(i)])) })));
    // Every master holds some of the rows.
    const masters = client.nodes('master');
    const perNode = await Promise.all(masters.map((n) => n.dbsize()));
    expect(perNode.every((n) => n > 0)).toBe(true);
    await store.readRows({ views: ['v@1'], entityKeys: [entities] }); // loads the script on every master
    await Promise.all(masters.map((n) => n.config('RESETSTAT')));
    const rows = await store.readRows({ views: ['v@1', 'w@1'], entityKeys: [entities, entities] });
    expect(rows[0].every((r, i) => r !== null && r.readDoubleLE(1) === i)).toBe(true);
    expect(rows[1].every((r) => r === null)).toBe(true);
    // Per master: one script call (EVALSHA), its MGETs (one per entity) run inside it.
    for (const n of masters) {
      const stats = await n.info('commandstats');
      const calls = (name: string) => Number(stats.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`))?.[1] ?? 0);
      expect(calls('evalsha')).toBe(1);
      expect(calls('mget')).toBeGreaterThan(0);
    }
  });

  it('a stale slot map (a slot moved) falls back to redirected MGETs and still reads every row', async () => {
    const client = store.redis as Cluster;
    const entities = Array.from({ length: 40 }, (_, i) => encodeEntityKey(keys, [i]));
    // Point one entity's slot at another master, as ioredis' map would be mid-resharding.
    const slot = keySlot(store.rowKeys.key('v@1', entities[7]));
    const owner = client.slots[slot];
    const other = client.nodes('master').map((n) => `${n.options.host}:${n.options.port}`).find((k) => k !== owner[0])!;
    const otherNode = client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === other)!;
    await otherNode.config('RESETSTAT');
    client.slots[slot] = [other];
    try {
      const rows = await store.readRows({ views: ['v@1'], entityKeys: [entities] });
      expect(rows[0].map((r) => r?.readDoubleLE(1))).toEqual(entities.map((_, i) => i));
      // The script call on the wrong master was refused ("non local key"): the rows came by the fallback.
      const stats = await otherNode.info('commandstats');
      expect(Number(stats.match(/cmdstat_evalsha:calls=\d+.*?failed_calls=(\d+)/)?.[1] ?? 0)).toBe(1);
    } finally {
      client.slots[slot] = owner;
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
