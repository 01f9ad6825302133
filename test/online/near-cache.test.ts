/**
 * The near cache (online_store.near_cache_mb): its table alone, then the Redis store with it
 * against a real redis-server, where other clients write, delete, expire and flush behind its
 * back and its connections are killed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, startRedisCluster, type RedisServer } from '../support/redis-server.ts';
import { NearCache, ENTRY_OVERHEAD_BYTES } from '../../src/online/redis/near-cache.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { isPitstopError } from '../../src/core/errors.ts';

describe('near cache table', () => {
  const HEAD = 'ps:p:v@1:{';
  it('a fill stores only for the token of the latest read of its key, and only while not invalidated', () => {
    const c = new NearCache(1 << 20);
    const t = c.table(HEAD);
    expect(c.get(t, 'k')).toBeUndefined();
    const t1 = c.pending(t, 'k');
    expect(c.get(t, 'k')).toBeUndefined(); // pending is not a hit
    const t2 = c.pending(t, 'k'); // a second read of the same key while the first is in flight
    expect(c.fill(t, 'k', t1, Buffer.from('old'))).toBe(false);
    expect(c.fill(t, 'k', t2, Buffer.from('new'))).toBe(true);
    expect(c.get(t, 'k')).toBe('new');

    const t3 = c.pending(t, 'gone');
    c.invalidateKey(`${HEAD}gone}`); // written while being read (Redis' message): the answer may predate the write
    expect(c.fill(t, 'gone', t3, Buffer.from('stale'))).toBe(false);
    expect(c.get(t, 'gone')).toBeUndefined();

    const t4 = c.pending(t, 'mine');
    c.invalidate(HEAD, 'mine'); // written by this process
    expect(c.fill(t, 'mine', t4, Buffer.from('stale'))).toBe(false);

    const t6 = c.pending(t, 'failed');
    c.cancel(t, 'failed', t6); // the read failed: nothing waits for it any more
    expect(t.pending.has('failed')).toBe(false);
    expect(c.fill(t, 'failed', t6, Buffer.from('late'))).toBe(false);

    const t5 = c.pending(t, 'cleared');
    c.clear();
    expect(c.fill(t, 'cleared', t5, null)).toBe(false);
    expect(c.size).toBe(0);
  });

  it('an invalidation reaches only its own view, and keys that are no row keys are ignored', () => {
    const c = new NearCache(1 << 20);
    const a = c.table(HEAD);
    const b = c.table('ps:p:w@1:{');
    c.fill(a, 'k', c.pending(a, 'k'), Buffer.from('a'));
    c.fill(b, 'k', c.pending(b, 'k'), Buffer.from('b'));
    c.invalidateKey('ps:p:w@1:{k}');
    c.invalidateKey('some-other-key');
    c.invalidateKey('ps:p:v@1:{k');
    expect(c.get(a, 'k')).toBe('a');
    expect(c.get(b, 'k')).toBeUndefined();
    expect(c.stats()).toMatchObject({ invalidations: 1, entries: 1 });
  });

  it('stores absence (null) and copies rows out of the reply buffer (as latin1 strings)', () => {
    const c = new NearCache(1 << 20);
    const t = c.table(HEAD);
    expect(c.fill(t, 'none', c.pending(t, 'none'), null)).toBe(true);
    expect(c.get(t, 'none')).toBeNull();
    const reply = Buffer.from('xxrowyy');
    c.fill(t, 'row', c.pending(t, 'row'), reply.subarray(2, 5));
    reply.fill(0); // the reply buffer is reused or freed: the cached row must not change
    expect(c.get(t, 'row')).toBe('row');
    expect(c.stats()).toMatchObject({ hits: 2, entries: 2 });
  });

  it('keeps within its byte budget, evicting the oldest entries of the largest view first', () => {
    const row = Buffer.alloc(100);
    const per = ENTRY_OVERHEAD_BYTES + 3 + 100;
    const c = new NearCache(per * 10);
    const small = c.table('ps:p:small@1:{');
    c.fill(small, 's00', c.pending(small, 's00'), row);
    const big = c.table(HEAD);
    for (let i = 10; i < 40; i++) c.fill(big, `k${i}`, c.pending(big, `k${i}`), row);
    const s = c.stats();
    expect(s.bytes).toBeLessThanOrEqual(per * 10);
    expect(s.entries).toBeGreaterThanOrEqual(9);
    expect(s.evictions).toBe(31 - s.entries);
    expect(c.get(big, 'k39')).toBe(row.toString('latin1')); // the newest stay
    expect(c.get(big, 'k10')).toBeUndefined(); // the oldest went
    expect(c.get(small, 's00')).toBe(row.toString('latin1')); // from the largest view, not the oldest overall
  });
});

const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const row = (t: number) => Buffer.from(enc.encode(t, null, [BigInt(t)]));
const e = (id: number) => encodeEntityKey([{ name: 'id', type: 'int64' }], [id]);
const keyOf = (view: string, entity: Buffer) => Buffer.concat([Buffer.from(`ps:nc:${view}:{`), entity, Buffer.from('}')]);

/** Why the store's near cache is not in use ('' while it is). */
const trackedDown = (store: RedisOnlineStore) => (store as unknown as { near: { down: string } }).near.down;

/** Polls `f` until it returns true (an invalidation arrives asynchronously); fails after `ms`. */
async function eventually(f: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('redis store with a near cache', () => {
  let server: RedisServer;
  let store: RedisOnlineStore;
  /** Another client, writing behind the store's back. */
  let admin: Redis;
  const mgets = async () => Number(/cmdstat_mget:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
  const read = async (views: string[], ids: number[]) => (await store.readRows({ views, entityKeys: views.map(() => ids.map(e)) })).map((rows) => rows.map((r) => (r === null ? null : r.toString('hex'))));

  /** Waits until a read of these rows is answered from the cache (it is in use again). */
  const servedFromCache = (views: string[], ids: number[]) =>
    eventually(async () => {
      const h = store.nearCacheStats()!.hits;
      await read(views, ids);
      return store.nearCacheStats()!.hits > h;
    });

  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
    store = await RedisOnlineStore.create({ url: server.url, project: 'nc', keyPrefix: 'ps', nearCacheBytes: 1 << 20, commandTimeoutMs: 500, connectTimeoutMs: 500 });
  });
  beforeEach(async () => {
    await admin.flushdb();
    // the FLUSHDB's invalidation (no keys) empties the cache
    await eventually(async () => store.nearCacheStats()!.entries === 0);
  });
  afterAll(async () => {
    await store?.close();
    admin?.disconnect();
    await server?.stop();
  });

  it('a second read of the same rows, present and absent, does not reach Redis', async () => {
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(10) }, { view: 'w@1', entity: e(1), row: row(11) }]);
    const first = await read(['v@1', 'w@1'], [1, 2]);
    expect(first).toEqual([[row(10).toString('hex'), null], [row(11).toString('hex'), null]]);
    const before = await mgets();
    const hits = store.nearCacheStats()!.hits;
    expect(await read(['v@1', 'w@1'], [1, 2])).toEqual(first);
    expect(await mgets()).toBe(before);
    expect(store.nearCacheStats()!.hits).toBe(hits + 4);
    // a read of cached and uncached rows together: one MGET of the uncached only
    await admin.set(keyOf('v@1', e(3)), row(30));
    expect(await read(['v@1'], [1, 3, 2])).toEqual([[row(10).toString('hex'), row(30).toString('hex'), null]]);
    expect(await mgets()).toBe(before + 1);
  });

  it("this process's own writes are read back at once", async () => {
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(1) }]);
    expect(await read(['v@1'], [1])).toEqual([[row(1).toString('hex')]]);
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(2) }]);
    expect(await read(['v@1'], [1])).toEqual([[row(2).toString('hex')]]);
    await store.writeRows([{ view: 'v@1', entity: e(9), row: row(3) }]); // cached as absent, then written
    expect(await read(['v@1'], [9])).toEqual([[row(3).toString('hex')]]);
  });

  it("another client's write, delete and a row's expiry reach the cache by invalidation", async () => {
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(1) }, { view: 'v@1', entity: e(2), row: row(2) }]);
    await read(['v@1'], [1, 2, 3]);
    await read(['v@1'], [1, 2, 3]); // all three cached (3 as absent)
    const inv = store.nearCacheStats()!.invalidations;
    await admin.set(keyOf('v@1', e(1)), row(100));
    await admin.del(keyOf('v@1', e(2)));
    await admin.set(keyOf('v@1', e(3)), row(300), 'PX', 300);
    await eventually(async () => JSON.stringify(await read(['v@1'], [1, 2, 3])) === JSON.stringify([[row(100).toString('hex'), null, row(300).toString('hex')]]));
    expect(store.nearCacheStats()!.invalidations).toBeGreaterThanOrEqual(inv + 3);
    // the row with a 300 ms expiry, now cached, goes when Redis expires it (active expiry sends the invalidation)
    await read(['v@1'], [3]);
    await eventually(async () => (await read(['v@1'], [3]))[0][0] === null);
  });

  it('FLUSHDB empties the cache', async () => {
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(1) }]);
    await read(['v@1'], [1]);
    expect(store.nearCacheStats()!.entries).toBe(1);
    await admin.flushdb();
    await eventually(async () => (await read(['v@1'], [1]))[0][0] === null);
  });

  it('a killed listener or tracked connection empties the cache; reads stay right meanwhile and it comes back', async () => {
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(1) }]);
    await read(['v@1'], [1]);
    await read(['v@1'], [1]);
    const clears = store.nearCacheStats()!.clears;
    // the listener goes: no invalidations can come, so the cache may not be used
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(async () => store.nearCacheStats()!.clears > clears);
    await admin.set(keyOf('v@1', e(1)), row(2)); // written while nobody listens
    expect(await read(['v@1'], [1])).toEqual([[row(2).toString('hex')]]);
    // it comes back: reads are served from memory again
    await servedFromCache(['v@1'], [1]);
    expect(await read(['v@1'], [1])).toEqual([[row(2).toString('hex')]]);

    // the tracked connection goes: Redis forgets what it tracked for it
    const trackedIds = async () => String(await admin.client('LIST')).split('\n').filter((l) => / flags=\S*t/.test(l)).map((l) => /id=(\d+)/.exec(l)![1]);
    const [id] = await trackedIds();
    expect(await trackedIds()).toEqual([id]);
    await admin.call('CLIENT', 'KILL', 'ID', id);
    await admin.set(keyOf('v@1', e(1)), row(3)); // written while it was down: no invalidation
    // no read until it has reconnected by itself: the first read after must not serve row 2
    await eventually(async () => {
      const ids = await trackedIds();
      return ids.length === 1 && ids[0] !== id;
    });
    expect(await read(['v@1'], [1])).toEqual([[row(3).toString('hex')]]);
    await servedFromCache(['v@1'], [1]);
    expect(await read(['v@1'], [1])).toEqual([[row(3).toString('hex')]]);
  });

  it('when setting tracking up fails, reads go around the cache and it is tried again until it works', async () => {
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(1) }]);
    await servedFromCache(['v@1'], [1]);
    // CLIENT TRACKING refused (an ACL), then the listener dropped: the new setup fails
    await admin.call('ACL', 'SETUSER', 'default', '-client|tracking');
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await eventually(async () => /setting up tracking failed: .*NOPERM|setting up tracking failed: .*permission/i.test(trackedDown(store)));
      const hits = store.nearCacheStats()!.hits;
      expect(await read(['v@1'], [1])).toEqual([[row(1).toString('hex')]]);
      expect(store.nearCacheStats()!.hits).toBe(hits); // read around the cache
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', '+client|tracking');
    }
    await servedFromCache(['v@1'], [1]); // a retry set it up
    expect(trackedDown(store)).toBe('');
  });

  it('a read that fails (a hung server: timeout) leaves nothing waiting to be filled', async () => {
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(1) }]);
    server.pause();
    try {
      await expect(read(['v@1'], [1, 2, 3])).rejects.toThrow(/timed out|not connected|reconnecting/);
    } finally {
      server.resume();
    }
    expect(store.nearCacheStats()!.pending).toBe(0);
    await eventually(async () => JSON.stringify(await read(['v@1'], [1]).catch(() => null)) === JSON.stringify([[row(1).toString('hex')]]));
  });

  it('a Redis restart empties the cache: nothing cached before it is served after', async () => {
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(1) }]);
    await read(['v@1'], [1]);
    await servedFromCache(['v@1'], [1]);
    await server.stop();
    // down: reads fail fast as without a cache (nothing cached is served while the cache cannot be kept right)
    await eventually(async () => {
      try {
        await read(['v@1'], [1]);
        return false;
      } catch (err) {
        return isPitstopError(err) && err.reason === 'ONLINE_STORE_UNAVAILABLE';
      }
    });
    await server.restart(); // empty: the row is gone, and no invalidation ever said so
    // once the cache is in use again (entity 2: absent, cached as such), entity 1's old row must not come back
    await eventually(async () => {
      await read(['v@1'], [2]).catch(() => undefined);
      return store.nearCacheStats()!.entries > 0;
    });
    await servedFromCache(['v@1'], [2]);
    expect(await read(['v@1'], [1])).toEqual([[null]]);
    await store.writeRows([{ view: 'v@1', entity: e(1), row: row(5) }]);
    expect(await read(['v@1'], [1])).toEqual([[row(5).toString('hex')]]);
    await servedFromCache(['v@1'], [1]); // and the cache is in use again
  });

  it('stays within its budget', async () => {
    const small = await RedisOnlineStore.create({ url: server.url, project: 'nc', nearCacheBytes: 20 * (ENTRY_OVERHEAD_BYTES + 64) });
    try {
      const ids = Array.from({ length: 200 }, (_, i) => i);
      await small.writeRows(ids.map((i) => ({ view: 'v@1', entity: e(i), row: row(i) })));
      const rows = await small.readRows({ views: ['v@1'], entityKeys: [ids.map(e)] });
      expect(rows[0].map((r) => r?.toString('hex'))).toEqual(ids.map((i) => row(i).toString('hex')));
      const s = small.nearCacheStats()!;
      expect(s.bytes).toBeLessThanOrEqual(s.maxBytes);
      expect(s.evictions).toBeGreaterThan(0);
    } finally {
      await small.close();
    }
  });

  it('is refused, naming the setting, on a cluster or without direct reads', async () => {
    const why = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        return isPitstopError(err) ? `${err.reason}: ${err.message}` : String(err);
      }
      return 'no error';
    };
    expect(await why(RedisOnlineStore.create({ url: server.url, project: 'nc', nearCacheBytes: 1000, directReads: false }))).toMatch(/^CONFIG_INVALID: online_store.near_cache_mb needs/);
    const cluster = await startRedisCluster(3);
    try {
      expect(await why(RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'nc', nearCacheBytes: 1000 }))).toMatch(/^CONFIG_INVALID: online_store.near_cache_mb needs/);
    } finally {
      await cluster.stop();
    }
  }, 60_000); // it starts a Redis Cluster
});
