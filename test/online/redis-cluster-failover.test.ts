/**
 * A Redis Cluster failover under the store's direct read connections: a replica of one master
 * takes over (CLUSTER FAILOVER), reads stay right throughout, and the connection to the old
 * master, now a replica, is closed once the store's slot map shows it is no master any more.
 * A store with a near cache empties it on the new master set and then tracks the new master.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../support/redis-server.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { eventually } from '../support/eventually.ts';
import { keyList } from '../support/key-list.ts';

const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const row = (t: number) => Buffer.from(enc.encode(t, null, [BigInt(t)]));
const e = (id: number) => encodeEntityKey([{ name: 'id', type: 'int64' }], [id]);

/** Until `f` holds; an error from it (a failed expect while things settle) counts as not yet. */
const until = (f: () => Promise<boolean>, what: string, ms = 20_000) => eventually(() => f().catch(() => false), ms, what, 100);

describe('redis cluster failover', () => {
  let cluster: RedisCluster;
  let replica: RedisServer;
  let dir: string;
  let store: RedisOnlineStore;
  /** The same cluster through a near cache (a tracker per master). */
  let near: RedisOnlineStore;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-redis-replica-'));
    replica = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'] });
    store = await RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'f', commandTimeoutMs: 1000 });
    near = await RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'f', commandTimeoutMs: 1000, nearCacheBytes: 1 << 20 });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await near?.close();
    await replica?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads stay right and the old master loses its read connection', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => i);
    await store.writeRows(ids.map((i) => ({ view: 'v@1', entity: e(i), row: row(i) })));
    const expected = ids.map((i) => row(i).toString('hex'));
    const readAll = async (from = store) => (await from.readRows({ views: ['v@1'], entityKeys: [keyList(ids.map(e))] }))[0].map((r) => r?.toString('hex') ?? null);
    // Reads until every master has its direct connection open (they open in the background).
    const m0 = cluster.nodes[0];
    const old = new Redis({ host: m0.host, port: m0.port });
    const mgetClients = async (r: Redis) => String(await r.client('LIST')).split('\n').filter((l) => / cmd=mget /.test(l)).length;
    try {
      await until(async () => {
        expect(await readAll()).toEqual(expected);
        expect(await readAll(near)).toEqual(expected);
        return (await mgetClients(old)) === 2; // the store's direct connection and the near cache's tracked one
      }, 'a direct read connection to master 0');
      // every row in the near cache
      await until(async () => {
        const h = near.nearCacheStats()!.hits;
        expect(await readAll(near)).toEqual(expected);
        return near.nearCacheStats()!.hits - h === ids.length;
      }, 'every row served from the near cache');
      const clears = near.nearCacheStats()!.clears;

      // The replica joins as master 0's replica, catches up, and takes over.
      const r = new Redis({ host: replica.host, port: replica.port });
      try {
        await r.cluster('MEET', m0.host, m0.port);
        const m0id = String(await old.cluster('MYID'));
        await until(async () => String(await r.cluster('NODES')).includes(m0id), 'the replica to learn the cluster');
        await r.cluster('REPLICATE', m0id);
        await until(async () => /master_link_status:up/.test(await r.info('replication')), 'the replica to sync');
        await r.cluster('FAILOVER');
        await until(async () => /role:master/.test(await r.info('replication')), 'the failover');
        // A write on the new master right away. Before the store's slot map shows the failover,
        // the old master, now a replica applying it, sends the invalidation to its tracker (seen
        // here: the new row read 145 ms after the write, 2026-12-06).
        const onOld = ids.find((i) => (store as unknown as { client: { slots: string[][] } }).client.slots[store.rowKeys.slot(e(i))][0] === `${m0.host}:${m0.port}`)!;
        const oldKey = Buffer.concat([Buffer.from('ps:f:v@1:{'), e(onOld), Buffer.from('}')]);
        await r.set(oldKey, row(4000));
        await until(async () => (await readAll(near))[onOld] === row(4000).toString('hex'), 'a write on the new master to reach the near cache at once', 5000);
        await r.set(oldKey, row(onOld));
        await until(async () => /role:slave/.test(await old.info('replication')), 'the old master to become a replica');

        // Reads stay right while the store finds out (MOVED from the old master, redirected reads,
        // a new slot map), and it ends up reading the new master directly and the old one not at all.
        await until(async () => {
          expect(await readAll()).toEqual(expected);
          expect(await readAll(near)).toEqual(expected);
          return (await mgetClients(r)) === 2 && (await mgetClients(old)) === 0;
        }, 'the read connections to move to the new master');
        expect(await readAll()).toEqual(expected);

        // The near cache found the new master set (its slot map refreshes every second), was
        // emptied, and tracks the new master: a row written there reaches it by invalidation.
        expect(near.nearCacheStats()!.clears).toBeGreaterThan(clears);
        const onNew = ids.find((i) => (store as unknown as { client: { slots: string[][] } }).client.slots[store.rowKeys.slot(e(i))][0] === `${replica.host}:${replica.port}`)!;
        expect(onNew).toBeDefined();
        await until(async () => {
          const h = near.nearCacheStats()!.hits;
          expect(await readAll(near)).toEqual(expected);
          return near.nearCacheStats()!.hits - h === ids.length;
        }, 'every row in the near cache again');
        const key = Buffer.concat([Buffer.from('ps:f:v@1:{'), e(onNew), Buffer.from('}')]);
        await r.set(key, row(5000));
        const now = expected.map((x, i) => (i === onNew ? row(5000).toString('hex') : x));
        await until(async () => JSON.stringify(await readAll(near)) === JSON.stringify(now), 'the write on the new master to reach the near cache');
        expect(await readAll()).toEqual(now);
      } finally {
        r.disconnect();
      }
    } finally {
      old.disconnect();
    }
  }, 90_000);
});
