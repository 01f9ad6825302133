/**
 * A Redis Cluster failover under the store's direct read connections: a replica of one master
 * takes over (CLUSTER FAILOVER), reads stay right throughout, and the connection to the old
 * master, now a replica, is closed once the store's slot map shows it is no master any more.
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

const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const row = (t: number) => Buffer.from(enc.encode(t, null, [BigInt(t)]));
const e = (id: number) => encodeEntityKey([{ name: 'id', type: 'int64' }], [id]);

async function eventually(f: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('redis cluster failover', () => {
  let cluster: RedisCluster;
  let replica: RedisServer;
  let dir: string;
  let store: RedisOnlineStore;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-redis-replica-'));
    replica = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'] });
    store = await RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'f', commandTimeoutMs: 1000 });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await replica?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads stay right and the old master loses its read connection', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => i);
    await store.writeRows(ids.map((i) => ({ view: 'v@1', entity: e(i), row: row(i) })));
    const expected = ids.map((i) => row(i).toString('hex'));
    const readAll = async () => (await store.readRows({ views: ['v@1'], entityKeys: [ids.map(e)] }))[0].map((r) => r?.toString('hex') ?? null);
    // Reads until every master has its direct connection open (they open in the background).
    const m0 = cluster.nodes[0];
    const old = new Redis({ host: m0.host, port: m0.port });
    const mgetClients = async (r: Redis) => String(await r.client('LIST')).split('\n').filter((l) => / cmd=mget /.test(l)).length;
    try {
      await eventually(async () => {
        expect(await readAll()).toEqual(expected);
        return (await mgetClients(old)) === 1;
      }, 'a direct read connection to master 0');

      // The replica joins as master 0's replica, catches up, and takes over.
      const r = new Redis({ host: replica.host, port: replica.port });
      try {
        await r.cluster('MEET', m0.host, m0.port);
        const m0id = String(await old.cluster('MYID'));
        await eventually(async () => String(await r.cluster('NODES')).includes(m0id), 'the replica to learn the cluster');
        await r.cluster('REPLICATE', m0id);
        await eventually(async () => /master_link_status:up/.test(await r.info('replication')), 'the replica to sync');
        await r.cluster('FAILOVER');
        await eventually(async () => /role:master/.test(await r.info('replication')), 'the failover');
        await eventually(async () => /role:slave/.test(await old.info('replication')), 'the old master to become a replica');

        // Reads stay right while the store finds out (MOVED from the old master, redirected reads,
        // a new slot map), and it ends up reading the new master directly and the old one not at all.
        await eventually(async () => {
          expect(await readAll()).toEqual(expected);
          return (await mgetClients(r)) === 1 && (await mgetClients(old)) === 0;
        }, 'the read connection to move to the new master');
        expect(await readAll()).toEqual(expected);
      } finally {
        r.disconnect();
      }
    } finally {
      old.disconnect();
    }
  }, 90_000);
});
