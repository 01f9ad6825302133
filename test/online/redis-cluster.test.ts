/**
 * Redis Cluster specifics on a real 3-master cluster: one read is one write per master, over a
 * direct connection (an MGET per entity) once those are up and through the read script before
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
import { keyList } from '../support/key-list.ts';

let cluster: RedisCluster;
let store: RedisOnlineStore;
/** The same cluster read through ioredis and the read script only (`directReads: false`). */
let scripted: RedisOnlineStore;
const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const keys = [{ name: 'id', type: 'int64' as const }];

/**
 * Reads until `s` serves them over its direct connections (they open in the background after
 * the first read): a read that runs no script on any master.
 */
async function untilDirect(s: RedisOnlineStore, entities: Buffer[]): Promise<void> {
  const masters = (s.redis as Cluster).nodes('master');
  for (let i = 0; i < 100; i++) {
    await Promise.all(masters.map((n) => n.config('RESETSTAT')));
    await s.readRows({ views: ['v@1'], entityKeys: [keyList(entities)] });
    const scripts = await Promise.all(masters.map(async (n) => /cmdstat_eval/.test(await n.info('commandstats'))));
    if (!scripts.some(Boolean)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the direct connections did not open');
}

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  store = await RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'c', commandTimeoutMs: 400 });
  scripted = await RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'c', commandTimeoutMs: 400, directReads: false });
}, 60_000); // a cluster's start can pass vitest's 10 s hook default on a loaded machine
afterAll(async () => {
  await store?.close();
  await scripted?.close();
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

  it('reads many entities with one write per master: an MGET per entity over direct connections, or one read-script call', async () => {
    const client = store.redis as Cluster;
    const ids = Array.from({ length: 300 }, (_, i) => i);
    const entities = ids.map((i) => encodeEntityKey(keys, [i]));
    await store.writeRows(entities.map((entity, i) => ({ view: 'v@1', entity, row: Buffer.from(enc.encode(i, null, [BigInt(i)])) })));
    // Every master holds some of the rows.
    const masters = client.nodes('master');
    const perNode = await Promise.all(masters.map((n) => n.dbsize()));
    expect(perNode.every((n) => n > 0)).toBe(true);
    const stats = async () =>
      Promise.all(
        masters.map(async (n) => {
          const text = await n.info('commandstats');
          return (name: string) => Number(text.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`))?.[1] ?? 0);
        }),
      );
    const check = (rows: (Buffer | null)[][]) => {
      expect(rows[0].every((r, i) => r !== null && r.readDoubleLE(1) === i)).toBe(true);
      expect(rows[1].every((r) => r === null)).toBe(true);
    };
    // The entities each master owns (its MGETs on the direct path: one per entity).
    const owned = masters.map((n) => entities.filter((e) => client.slots[store.rowKeys.slot(e)][0] === `${n.options.host}:${n.options.port}`).length);
    expect(owned.reduce((a, b) => a + b)).toBe(300);

    // Through the script: one EVALSHA per master, its MGETs (one per entity) inside.
    await scripted.readRows({ views: ['v@1'], entityKeys: [keyList(entities)] }); // loads the script on every master
    await Promise.all(masters.map((n) => n.config('RESETSTAT')));
    check(await scripted.readRows({ views: ['v@1', 'w@1'], entityKeys: [keyList(entities), keyList(entities)] }));
    for (const [m, calls] of (await stats()).entries()) {
      expect(calls('evalsha')).toBe(1);
      expect(calls('mget')).toBe(owned[m]);
    }

    // Direct: the first read starts a connection per master in the background (and is served by
    // the script meanwhile); once they are up, a read is plain MGETs, one per entity, no script.
    await untilDirect(store, entities);
    await Promise.all(masters.map((n) => n.config('RESETSTAT')));
    check(await store.readRows({ views: ['v@1', 'w@1'], entityKeys: [keyList(entities), keyList(entities)] }));
    for (const [m, calls] of (await stats()).entries()) {
      expect(calls('evalsha') + calls('eval')).toBe(0);
      expect(calls('mget')).toBe(owned[m]);
    }
  });

  for (const path of ['direct', 'script'] as const) {
    it(`a stale slot map (a slot moved) falls back to redirected MGETs and still reads every row (${path})`, async () => {
      const s = path === 'direct' ? store : scripted;
      const client = s.redis as Cluster;
      const entities = Array.from({ length: 40 }, (_, i) => encodeEntityKey(keys, [i]));
      await s.writeRows(entities.map((entity, i) => ({ view: 'v@1', entity, row: Buffer.from(enc.encode(i, null, [BigInt(i)])) })));
      const rows = () => s.readRows({ views: ['v@1'], entityKeys: [keyList(entities)] });
      if (path === 'direct') await untilDirect(s, entities);
      expect((await rows())[0].map((r) => r?.readDoubleLE(1))).toEqual(entities.map((_, i) => i));
      // Point one entity's slot at another master, as ioredis' map would be mid-resharding.
      const slot = keySlot(s.rowKeys.key('v@1', entities[7]));
      const owner = client.slots[slot];
      const other = client.nodes('master').map((n) => `${n.options.host}:${n.options.port}`).find((k) => k !== owner[0])!;
      const otherNode = client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === other)!;
      await otherNode.config('RESETSTAT');
      client.slots[slot] = [other];
      try {
        expect((await rows())[0].map((r) => r?.readDoubleLE(1))).toEqual(entities.map((_, i) => i));
        // The wrong master refused the key (the script: "non local key"; an MGET: MOVED), and
        // the rows came by the fallback.
        const stats = await otherNode.info('commandstats');
        const count = (name: string, what: string) => Number(stats.match(new RegExp(`cmdstat_${name}:.*?${what}=(\\d+)`))?.[1] ?? 0);
        if (path === 'direct') {
          // MOVED, before running: the direct MGET's, then the fallback's own (ioredis' map is the
          // stale one, and it follows the redirect); no script anywhere.
          expect(count('mget', 'rejected_calls')).toBe(2);
          expect(count('evalsha', 'calls')).toBe(0);
        } else expect(count('evalsha', 'failed_calls')).toBe(1);
      } finally {
        client.slots[slot] = owner;
      }
    });
  }

  it('a hung node fails the read within the command timeout, and reads recover when it answers again', async () => {
    const entities = Array.from({ length: 60 }, (_, i) => encodeEntityKey(keys, [i]));
    await untilDirect(store, entities);
    cluster.pauseNode(1);
    try {
      const t0 = Date.now();
      await expect(store.readRows({ views: ['v@1'], entityKeys: [keyList(entities)] })).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      cluster.resumeNode(1);
    }
    const rows = await store.readRows({ views: ['v@1'], entityKeys: [keyList(entities)] });
    expect(rows[0]).toHaveLength(60);
  });
});
