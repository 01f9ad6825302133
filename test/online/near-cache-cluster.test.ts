/**
 * The near cache on a Redis Cluster (three real masters from the harness): a tracker per master,
 * one cache. Rows of every master are served from memory once read; another client's writes and
 * deletes on any master reach it by invalidation; a flush or a lost connection on one master
 * empties it; reads stay right throughout.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { startRedisCluster, type RedisCluster } from '../support/redis-server.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { isPitstopError } from '../../src/core/errors.ts';
import { eventually } from '../support/eventually.ts';
import { keyList } from '../support/key-list.ts';

const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const row = (t: number) => Buffer.from(enc.encode(t, null, [BigInt(t)]));
const e = (id: number) => encodeEntityKey([{ name: 'id', type: 'int64' }], [id]);
const keyOf = (view: string, entity: Buffer) => Buffer.concat([Buffer.from(`ps:ncc:${view}:{`), entity, Buffer.from('}')]);
/** Waits for reconnects and invalidations: generous, for a loaded machine. */
const SETTLE_MS = 10_000;
const hex = (rows: (Buffer | null)[][]) => rows.map((rs) => rs.map((r) => (r === null ? null : r.toString('hex'))));

describe('near cache on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let store: RedisOnlineStore;
  /** Another client, writing behind the store's back. */
  let admin: Cluster;
  /** One plain connection per master, for INFO and CLIENT commands. */
  let nodes: Redis[];
  const ids = Array.from({ length: 120 }, (_, i) => i);
  const views = ['a@1', 'b@1'];
  const readAll = async () => hex(await store.readRows({ views, entityKeys: views.map(() => keyList(ids.map(e))) }));
  const expected = (value: (view: string, id: number) => number | null) => views.map((v) => ids.map((i) => (value(v, i) === null ? null : row(value(v, i)!).toString('hex'))));
  /** MGETs answered by the masters so far (each node's command stats). */
  const mgets = async () => {
    let n = 0;
    for (const r of nodes) n += Number(/cmdstat_mget:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0);
    return n;
  };
  const stats = () => store.nearCacheStats()!;
  /** Until a read of every row is answered from the cache alone (every master's tracker is up). */
  const allCached = () =>
    eventually(async () => {
      const h = stats().hits;
      await readAll();
      return stats().hits - h === views.length * ids.length;
    }, SETTLE_MS);

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    nodes = cluster.nodes.map((n) => new Redis({ host: n.host, port: n.port }));
    admin = new Cluster(cluster.nodes);
    store = await RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'ncc', nearCacheBytes: 1 << 20, commandTimeoutMs: 1000, connectTimeoutMs: 1000 });
  }, 60_000);
  beforeEach(async () => {
    await Promise.all(nodes.map((r) => r.flushall()));
    // each master's flush (an invalidation with no keys) empties the cache
    await eventually(async () => stats().entries === 0, SETTLE_MS);
  });
  afterAll(async () => {
    await store?.close();
    admin?.disconnect();
    for (const r of nodes ?? []) r.disconnect();
    await cluster?.stop();
  });

  it('rows of every master are served from memory once read, present and absent alike', async () => {
    // ids 0..119 spread over all three masters; view b has rows for even ids only
    await store.writeRows([...ids.map((i) => ({ view: 'a@1', entity: e(i), row: row(i) })), ...ids.filter((i) => i % 2 === 0).map((i) => ({ view: 'b@1', entity: e(i), row: row(1000 + i) }))]);
    const want = expected((v, i) => (v === 'a@1' ? i : i % 2 === 0 ? 1000 + i : null));
    const owners = new Set(ids.map((i) => store.rowKeys.slot(e(i))).map((s) => (admin.slots[s] ?? [])[0]));
    expect(owners.size).toBe(3); // the rows really live on every master
    expect(await readAll()).toEqual(want);
    await allCached();
    const before = await mgets();
    const hits = stats().hits;
    expect(await readAll()).toEqual(want);
    expect(await readAll()).toEqual(want);
    expect(await mgets()).toBe(before); // no master was asked
    expect(stats().hits - hits).toBe(2 * views.length * ids.length);
  });

  it("another client's writes and deletes on any master reach the cache by invalidation; own writes are read back at once", async () => {
    await store.writeRows(ids.map((i) => ({ view: 'a@1', entity: e(i), row: row(i) })));
    await allCached();
    // behind the store's back: a write and a delete on each master (ids spread over all three)
    const changed = [0, 1, 2, 3, 4, 5, 6, 7];
    for (const i of changed) {
      if (i % 2 === 0) await admin.set(keyOf('a@1', e(i)), row(500 + i));
      else await admin.del(keyOf('a@1', e(i)));
    }
    const value = (v: string, i: number) => (v === 'b@1' ? null : !changed.includes(i) ? i : i % 2 === 0 ? 500 + i : null);
    await eventually(async () => JSON.stringify(await readAll()) === JSON.stringify(expected(value)), SETTLE_MS);
    // own writes: read back at once, whatever master holds them
    await store.writeRows(changed.map((i) => ({ view: 'a@1', entity: e(i), row: row(900 + i) })));
    expect(await readAll()).toEqual(expected((v, i) => (v === 'b@1' ? null : changed.includes(i) ? 900 + i : i)));
  });

  it('a flush or a killed tracked connection on one master empties the cache; reads stay right and it comes back', async () => {
    await store.writeRows(ids.map((i) => ({ view: 'a@1', entity: e(i), row: row(i) })));
    await allCached();
    expect(stats().entries).toBe(views.length * ids.length);
    // FLUSHDB on one master: its invalidation (no keys) empties the whole cache
    await nodes[1].flushdb();
    await eventually(async () => stats().entries === 0, SETTLE_MS);
    const gone = new Set(ids.filter((i) => admin.slots[store.rowKeys.slot(e(i))][0] === `${cluster.nodes[1].host}:${cluster.nodes[1].port}`));
    expect(gone.size).toBeGreaterThan(0);
    expect(await readAll()).toEqual(expected((v, i) => (v === 'b@1' || gone.has(i) ? null : i)));
    await allCached();

    // master 2's tracked connection is killed; a row written there meanwhile sends no invalidation
    const trackedIds = async (r: Redis) => String(await r.client('LIST')).split('\n').filter((l) => / flags=\S*t/.test(l)).map((l) => /id=(\d+)/.exec(l)![1]);
    const [id] = await trackedIds(nodes[2]);
    const onTwo = ids.find((i) => admin.slots[store.rowKeys.slot(e(i))][0] === `${cluster.nodes[2].host}:${cluster.nodes[2].port}`)!;
    await nodes[2].call('CLIENT', 'KILL', 'ID', id);
    await nodes[2].set(keyOf('a@1', e(onTwo)), row(777));
    await eventually(async () => {
      const now = await trackedIds(nodes[2]);
      return now.length === 1 && now[0] !== id;
    }, SETTLE_MS);
    const want = expected((v, i) => (v === 'b@1' || gone.has(i) ? null : i === onTwo ? 777 : i));
    expect(await readAll()).toEqual(want);
    await allCached();
    expect(await readAll()).toEqual(want);
  }, 30_000);

  it('is refused, naming the setting, without direct reads', async () => {
    const err = await RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'ncc', nearCacheBytes: 1000, directReads: false }).catch((x) => x);
    expect(isPitstopError(err) ? `${err.reason}: ${err.message}` : String(err)).toMatch(/^CONFIG_INVALID: online_store.near_cache_mb needs reads over direct connections/);
  });
});
