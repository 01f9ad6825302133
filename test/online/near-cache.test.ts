/**
 * The near cache (online_store.near_cache_mb): its table alone, then the Redis store with it
 * against a real redis-server, where other clients write, delete, expire and flush behind its
 * back and its connections are killed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { NearCache, ENTRY_OVERHEAD_BYTES, keyHash } from '../../src/online/redis/near-cache.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { isPitstopError } from '../../src/core/errors.ts';
import { eventually } from '../support/eventually.ts';
import { keyList } from '../support/key-list.ts';

describe('near cache table', () => {
  const HEAD = 'ps:p:v@1:{';
  const k = (text: string) => Buffer.from(text, 'latin1');
  /** The cached row of `key` as text, null for "no row", undefined when not cached. */
  const get = (c: NearCache, table: number, key: string): string | null | undefined => {
    const a = c.lookup(table, k(key), c.hash(table, k(key)));
    if (a < 0) return undefined;
    const len = c.rowLength(a);
    if (len < 0) return null;
    const out = Buffer.alloc(len + 4, 0x2e);
    expect(c.copyRow(a, out, 2)).toBe(len);
    expect(out.subarray(0, 2).toString()).toBe('..'); // copied where asked, nothing around it
    expect(out.subarray(len + 2).toString()).toBe('..');
    return out.subarray(2, 2 + len).toString('latin1');
  };
  /** Takes a ticket for `key` (the read is sent) and returns the fill to run with its answer. */
  const read = (c: NearCache, table: number, key: string) => {
    const hash = c.hash(table, k(key));
    const ticket = c.ticket(hash);
    return (row: Buffer | null) => c.fill(table, k(key), hash, ticket, row);
  };

  it('a fill stores only while its key was not invalidated since its ticket was taken', () => {
    const c = new NearCache(1 << 20);
    const t = c.table(HEAD);
    expect(get(c, t, 'k')).toBeUndefined();
    const first = read(c, t, 'k');
    const second = read(c, t, 'k'); // a second read of the same key while the first is in flight
    expect(first(Buffer.from('old'))).toBe(true);
    expect(second(Buffer.from('new'))).toBe(true); // replies come in order: the later one stays
    expect(get(c, t, 'k')).toBe('new');
    expect(c.size).toBe(1);

    const gone = read(c, t, 'gone');
    c.invalidateKey(`${HEAD}gone}`); // written while being read (Redis' message): the answer may predate the write
    expect(gone(Buffer.from('stale'))).toBe(false);
    expect(get(c, t, 'gone')).toBeUndefined();

    const mine = read(c, t, 'mine');
    c.invalidate(HEAD, k('mine')); // written by this process
    expect(mine(Buffer.from('stale'))).toBe(false);
    expect(read(c, t, 'mine')(Buffer.from('fresh'))).toBe(true); // a read after the write stores

    const cleared = read(c, t, 'cleared');
    c.clear();
    expect(cleared(null)).toBe(false);
    expect(c.size).toBe(0);
    expect(get(c, t, 'k')).toBeUndefined();
  });

  it('an invalidation reaches only its own view and key, and keys that are no row keys are ignored', () => {
    const c = new NearCache(1 << 20);
    const a = c.table(HEAD);
    const b = c.table('ps:p:w@1:{');
    read(c, a, 'k')(Buffer.from('a'));
    read(c, b, 'k')(Buffer.from('b'));
    read(c, b, 'k2')(Buffer.from('b2'));
    c.invalidateKey('ps:p:w@1:{k}');
    c.invalidateKey('some-other-key');
    c.invalidateKey('ps:p:v@1:{k');
    c.invalidateKey('ps:p:unknown@1:{k}');
    expect(get(c, a, 'k')).toBe('a');
    expect(get(c, b, 'k')).toBeUndefined();
    expect(get(c, b, 'k2')).toBe('b2');
    expect(c.stats()).toMatchObject({ invalidations: 1, entries: 2 });
  });

  it('stores absence (null) and copies rows out of the reply buffer, short and long, binary keys included', () => {
    const c = new NearCache(1 << 20);
    const t = c.table(HEAD);
    expect(read(c, t, 'none')(null)).toBe(true);
    expect(get(c, t, 'none')).toBeNull();
    const reply = Buffer.from('xxrowyy');
    read(c, t, 'row')(reply.subarray(2, 5));
    reply.fill(0); // the reply buffer is reused or freed: the cached row must not change
    expect(get(c, t, 'row')).toBe('row');
    const long = Buffer.from('L'.repeat(5000));
    read(c, t, '\u0000\u00ff\u0080')(long);
    expect(get(c, t, '\u0000\u00ff\u0080')).toBe(long.toString('latin1'));
    expect(get(c, t, '\u0000\u00ff')).toBeUndefined(); // a prefix of a key is another key
    expect(c.stats()).toMatchObject({ hits: 3, misses: 1, entries: 3 });
  });

  it('keeps within its byte budget, evicting the oldest first, a segment at a time', () => {
    const row = Buffer.alloc(100, 7);
    const c = new NearCache(8 << 10); // 8 segments of 1 KB: 7 entries of 128 B each
    const t = c.table(HEAD);
    for (let i = 0; i < 200; i++) expect(read(c, t, `k${String(i).padStart(3, '0')}`)(row)).toBe(true);
    const s = c.stats();
    expect(s.bytes).toBeLessThanOrEqual(s.maxBytes);
    expect(s.entries).toBeGreaterThanOrEqual(49); // at least 7 of 8 segments full
    expect(s.evictions).toBe(200 - s.entries);
    expect(get(c, t, 'k199')).toBe(row.toString('latin1')); // the newest stay
    expect(get(c, t, 'k000')).toBeUndefined(); // the oldest went
    // Entries larger than a segment are not stored (nor is anything else disturbed).
    expect(read(c, t, 'huge')(Buffer.alloc(2000))).toBe(false);
    expect(get(c, t, 'k199')).toBe(row.toString('latin1'));
  });

  it('keys whose hashes collide are told apart by their bytes', () => {
    const c = new NearCache(1 << 20);
    const t = c.table(HEAD);
    // Find two keys of one length with the same 32-bit hash (a birthday search: ~2^16 keys).
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const key = `c${String(i).padStart(7, '0')}`;
      const h = c.hash(t, k(key));
      const other = seen.get(h);
      if (other !== undefined) pair = [other, key];
      else seen.set(h, key);
    }
    read(c, t, pair[0])(Buffer.from('first'));
    read(c, t, pair[1])(Buffer.from('second'));
    expect(get(c, t, pair[0])).toBe('first');
    expect(get(c, t, pair[1])).toBe('second');
    c.invalidate(HEAD, k(pair[0]));
    expect(get(c, t, pair[0])).toBeUndefined();
    expect(get(c, t, pair[1])).toBe('second');
    c.verify();
  });

  it('lookupMany finds what lookup finds, key by key: hits, misses, absent rows, tombstones and colliding slots', () => {
    let seed = 777;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const c = new NearCache(1 << 20);
    const tables = [c.table(HEAD), c.table('ps:p:w@2:{')];
    // Enough keys that linear probing runs past the first slot, and invalidations leave tombstones.
    for (let i = 0; i < 3000; i++) {
      const t = tables[rnd(2)];
      const key = `e${rnd(2000)}`;
      if (rnd(5) === 0) c.invalidate(t === tables[0] ? HEAD : 'ps:p:w@2:{', k(key));
      else read(c, t, key)(rnd(4) === 0 ? null : Buffer.from(`${t}|${key}`));
    }
    c.verify();
    const names = Array.from({ length: 300 }, () => `e${rnd(2400)}`);
    const keys = keyList(names.map(k));
    const keyHashes = Int32Array.from(names, (_, i) => keyHash(keys.bytes, keys.offsets[i], keys.offsets[i + 1]));
    let checked = 0;
    for (const t of tables) {
      const at = 5;
      const hashes = new Uint32Array(at + names.length);
      const out = new Float64Array(at + names.length).fill(-7);
      const before = c.stats();
      c.lookupMany(t, keys.bytes, keys.offsets, keyHashes, names.length, hashes, out, at);
      const after = c.stats();
      expect(out.subarray(0, at).every((a) => a === -7)).toBe(true); // only from `at` on
      let hits = 0;
      for (let i = 0; i < names.length; i++) {
        const hash = c.hash(t, k(names[i]));
        expect(hashes[at + i], names[i]).toBe(hash);
        const a = c.lookup(t, k(names[i]), hash);
        expect(out[at + i], names[i]).toBe(a);
        if (a >= 0) hits++;
        checked++;
      }
      expect(hits).toBeGreaterThan(0);
      expect(hits).toBeLessThan(names.length);
      expect(after.hits - before.hits).toBe(hits);
      expect(after.misses - before.misses).toBe(names.length - hits);
    }
    expect(checked).toBe(2 * names.length);
  });

  it('agrees with a Map under random fills, invalidations, evictions and clears (index rebuilds included)', () => {
    let seed = 12345;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const c = new NearCache(16 << 10);
    const tables = [c.table(HEAD), c.table('ps:p:w@2:{')];
    const model = new Map<string, string | null>();
    for (let step = 0; step < 20000; step++) {
      const t = tables[rnd(2)];
      const key = `e${rnd(3000)}`;
      const id = `${t}|${key}`;
      const op = rnd(100);
      if (op < 60) {
        const got = get(c, t, key);
        // The cache may have evicted it, but what it serves must be what was stored last.
        if (got !== undefined) expect(got, id).toBe(model.get(id));
      } else if (op < 92) {
        const row = rnd(10) === 0 ? null : Buffer.from(`${id}#${step}`.repeat(1 + rnd(6)));
        if (read(c, t, key)(row)) model.set(id, row === null ? null : row.toString('latin1'));
      } else if (op < 99) {
        c.invalidate(t === tables[0] ? HEAD : 'ps:p:w@2:{', k(key));
        model.delete(id);
        expect(get(c, t, key)).toBeUndefined();
      }
      if (step === 10000) {
        c.clear();
        model.clear();
      }
      if (step % 500 === 0) c.verify();
    }
    c.verify();
    const s = c.stats();
    expect(s.bytes).toBeLessThanOrEqual(s.maxBytes);
    expect(s.evictions).toBeGreaterThan(0);
    let present = 0;
    for (const [id, v] of model) {
      const [t, key] = id.split('|');
      const got = get(c, Number(t), key);
      if (got !== undefined) {
        expect(got).toBe(v);
        present++;
      }
    }
    expect(present).toBe(s.entries);
  });
});

const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const row = (t: number) => Buffer.from(enc.encode(t, null, [BigInt(t)]));
const e = (id: number) => encodeEntityKey([{ name: 'id', type: 'int64' }], [id]);
const keyOf = (view: string, entity: Buffer) => Buffer.concat([Buffer.from(`ps:nc:${view}:{`), entity, Buffer.from('}')]);

/** Why the store's near cache is not in use ('' while it is). */
const trackedDown = (store: RedisOnlineStore) => (store as unknown as { near: { down: string } }).near.down;

/** Polls `f` until it returns true (an invalidation arrives asynchronously); fails after `ms`. */
describe('redis store with a near cache', () => {
  let server: RedisServer;
  let store: RedisOnlineStore;
  /** Another client, writing behind the store's back. */
  let admin: Redis;
  const mgets = async () => Number(/cmdstat_mget:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
  const read = async (views: string[], ids: number[]) => (await store.readRows({ views, entityKeys: views.map(() => keyList(ids.map(e))) })).map((rows) => rows.map((r) => (r === null ? null : r.toString('hex'))));

  /** Waits until a read of these rows is answered from the cache (it is in use again). */
  const servedFromCache = (views: string[], ids: number[], ms?: number) =>
    eventually(async () => {
      const h = store.nearCacheStats()!.hits;
      await read(views, ids);
      return store.nearCacheStats()!.hits > h;
    }, ms);

  beforeAll(async () => {
    server = await startRedis({ args: ['--enable-debug-command', 'yes'] });
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

  it('a cached row that may have expired in Redis (event time + ttl + grace passed) is read again, so it reads as Redis has it', async () => {
    const ttl = 3_600_000; // grace: another hour
    const spans = new Int32Array(4);
    const readTtl = async (id: number) => {
      const data = await store.readSpans({ views: ['t@1'], entityKeys: [keyList([e(id)])], ttlMs: [ttl] }, spans);
      return spans[0] < 0 ? null : data.subarray(spans[0], spans[1]).toString('hex');
    };
    // Redis' own expiry cycle would delete the key and send the invalidation soon after its
    // PXAT; with it off, only a read of the key (lazy expiry) finds it gone, as can happen under
    // load with many keys due.
    await admin.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    try {
      const old = Buffer.from(enc.encode(Date.now() - 2 * ttl - 1000, null, [1n]));
      const fresh = Buffer.from(enc.encode(Date.now(), null, [2n]));
      await store.writeRows([
        { view: 't@1', entity: e(1), row: old, expireAtMs: Date.now() + 300 },
        { view: 't@1', entity: e(2), row: fresh, expireAtMs: Date.now() + 300 },
      ]);
      expect(await readTtl(1)).toBe(old.toString('hex'));
      expect(await readTtl(2)).toBe(fresh.toString('hex'));
      const hits = store.nearCacheStats()!.hits;
      const before = await mgets();
      // Still in Redis: the old row is fetched again (a miss), the fresh one served from the cache.
      expect(await readTtl(1)).toBe(old.toString('hex'));
      expect(await readTtl(2)).toBe(fresh.toString('hex'));
      expect(await mgets()).toBe(before + 1);
      expect(store.nearCacheStats()!.hits).toBe(hits + 1);
      await new Promise((r) => setTimeout(r, 400));
      // Both keys are past their PXAT now. The old row reads as Redis has it: gone.
      expect(await readTtl(1)).toBeNull();
      // The fresh one is still cached (no invalidation has come: nothing deleted the key), as the
      // docs say: a row whose event time is recent is kept until Redis says otherwise.
      expect(await readTtl(2)).toBe(fresh.toString('hex'));
    } finally {
      await admin.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
    }
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
    // once the cache is in use again (entity 2: absent, cached as such), entity 1's old row must
    // not come back. The wait covers the listener's reconnect backoff (up to 1 s a try) and the
    // tracking setup's retries (1 s apart).
    await eventually(async () => {
      await read(['v@1'], [2]).catch(() => undefined);
      return store.nearCacheStats()!.entries > 0;
    }, 10_000);
    await servedFromCache(['v@1'], [2], 10_000);
    expect(await read(['v@1'], [1])).toEqual([[null]]);
    // The write connection reconnects on its own schedule and, with no offline queue, refuses
    // writes (ONLINE_STORE_UNAVAILABLE) until it has: the reads above can be back before it
    // (seen under load, 2026-12-06: the write threw 197 ms into the test). Writes are retried
    // here as a caller would; any other error fails the test.
    await eventually(async () => {
      try {
        await store.writeRows([{ view: 'v@1', entity: e(1), row: row(5) }]);
        return true;
      } catch (err) {
        if (isPitstopError(err) && err.reason === 'ONLINE_STORE_UNAVAILABLE') return false;
        throw err;
      }
    }, 10_000);
    expect(await read(['v@1'], [1])).toEqual([[row(5).toString('hex')]]);
    await servedFromCache(['v@1'], [1]); // and the cache is in use again
  });

  it('stays within its budget', async () => {
    const small = await RedisOnlineStore.create({ url: server.url, project: 'nc', nearCacheBytes: 20 * (ENTRY_OVERHEAD_BYTES + 64) });
    try {
      const ids = Array.from({ length: 200 }, (_, i) => i);
      await small.writeRows(ids.map((i) => ({ view: 'v@1', entity: e(i), row: row(i) })));
      const rows = await small.readRows({ views: ['v@1'], entityKeys: [keyList(ids.map(e))] });
      expect(rows[0].map((r) => r?.toString('hex'))).toEqual(ids.map((i) => row(i).toString('hex')));
      const s = small.nearCacheStats()!;
      expect(s.bytes).toBeLessThanOrEqual(s.maxBytes);
      expect(s.evictions).toBeGreaterThan(0);
    } finally {
      await small.close();
    }
  });

  it('is refused, naming the setting, without direct reads (clusters: near-cache-cluster.test.ts)', async () => {
    const err = await RedisOnlineStore.create({ url: server.url, project: 'nc', nearCacheBytes: 1000, directReads: false }).catch((x) => x);
    expect(isPitstopError(err) ? `${err.reason}: ${err.message}` : String(err)).toMatch(/^CONFIG_INVALID: online_store.near_cache_mb needs reads over direct connections/);
  });
});
