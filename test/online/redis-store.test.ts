/**
 * Redis-specific behaviour beyond the contract: row expiry, fail-fast while Redis is down and
 * recovery once it returns, NOSCRIPT fallback, key layout (storage format 2) and namespacing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { Redis as IORedis, type Redis } from 'ioredis';
import { keyList } from '../support/key-list.ts';

const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const row = (t: number) => Buffer.from(enc.encode(t, null, [BigInt(t)]));
const e = (id: number) => encodeEntityKey([{ name: 'id', type: 'int64' }], [id]);
/** A row's key, spelled out here (not through RowKeys) so the test pins the layout. */
const keyOf = (view: string, entity: Buffer, project = 'p1') => Buffer.concat([Buffer.from(`ps:${project}:${view}:{`), entity, Buffer.from('}')]);

describe('redis online store', () => {
  let server: RedisServer;
  let store: RedisOnlineStore;
  /** The same store reading through ioredis and the read script (`directReads: false`). */
  let scripted: RedisOnlineStore;
  beforeAll(async () => {
    server = await startRedis();
    store = await RedisOnlineStore.create({ url: server.url, project: 'p1', keyPrefix: 'ps', commandTimeoutMs: 500, connectTimeoutMs: 500 });
    scripted = await RedisOnlineStore.create({ url: server.url, project: 'p1', keyPrefix: 'ps', commandTimeoutMs: 500, connectTimeoutMs: 500, directReads: false });
  });
  afterAll(async () => {
    await store?.close();
    await scripted?.close();
    await server?.stop();
  });

  it('keys are <prefix>:<project>:<view>@<version>:{entity}, one string per row', async () => {
    await store.writeRows([{ view: 'rides@1', entity: e(1), row: row(1) }, { view: 'rides@2', entity: e(1), row: row(2) }]);
    const redis = store.redis as Redis;
    expect(await redis.getBuffer(keyOf('rides@1', e(1)))).toEqual(row(1));
    expect(await redis.getBuffer(keyOf('rides@2', e(1)))).toEqual(row(2));
    expect((await redis.keys('ps:p1:rides@*')).length).toBe(2);
    expect(store.rowKeys.parse(keyOf('rides@2', e(1)))).toEqual({ view: 'rides@2', entity: e(1) });
    // another project in the same Redis never sees these rows
    const other = await RedisOnlineStore.create({ url: server.url, project: 'p2' });
    try {
      expect((await other.readRows({ views: ['rides@1'], entityKeys: [keyList([e(1)])] }))[0][0]).toBeNull();
    } finally {
      await other.close();
    }
  });

  it('each row expires on its own; a view without ttl keeps its rows, and only its rows, forever', async () => {
    const redis = store.redis as Redis;
    const now = Date.now();
    await store.writeRows([
      { view: 'a@1', entity: e(2), row: row(1), expireAtMs: now + 60_000 },
      { view: 'b@1', entity: e(2), row: row(1), expireAtMs: now + 30_000 },
      { view: 'c@1', entity: e(2), row: row(1) },
    ]);
    expect(await redis.pexpiretime(keyOf('a@1', e(2)))).toBe(now + 60_000);
    expect(await redis.pexpiretime(keyOf('b@1', e(2)))).toBe(now + 30_000); // views of one entity do not share an expiry
    expect(await redis.pexpiretime(keyOf('c@1', e(2)))).toBe(-1); // persistent, and the others are not
    await store.writeRows([{ view: 'b@1', entity: e(2), row: row(2), expireAtMs: now + 90_000 }]);
    expect(await redis.pexpiretime(keyOf('b@1', e(2)))).toBe(now + 90_000); // a newer row moves it
    await store.writeRows([{ view: 'b@1', entity: e(2), row: row(1), expireAtMs: now + 120_000 }]);
    expect(await redis.pexpiretime(keyOf('b@1', e(2)))).toBe(now + 90_000); // a stale row changes nothing
    // a row that expires is gone: entities that stop arriving do not leak
    await store.writeRows([{ view: 'a@1', entity: e(3), row: row(1), expireAtMs: Date.now() + 50 }]);
    await new Promise((r) => setTimeout(r, 120));
    expect((await store.readRows({ views: ['a@1'], entityKeys: [keyList([e(3)])] }))[0][0]).toBeNull();
  });

  it('falls back to EVAL when the script cache was flushed (write and read scripts)', async () => {
    await (store.redis as Redis).script('FLUSH');
    expect((await store.writeRows([{ view: 'n@1', entity: e(4), row: row(7) }])).written).toBe(1);
    await (store.redis as Redis).script('FLUSH');
    expect((await scripted.readRows({ views: ['n@1'], entityKeys: [keyList([e(4)])] }))[0][0]).toEqual(row(7));
  });

  it('a standalone read is one MGET, whatever the entities and views (and one script call without direct reads)', async () => {
    await store.writeRows([
      { view: 'g@1', entity: e(40), row: row(40) },
      { view: 'h@1', entity: e(40), row: row(41) },
      { view: 'k@1', entity: e(42), row: row(42) },
    ]);
    const redis = store.redis as Redis;
    const shared = [e(40), e(41), e(40)];
    const batch = { views: ['g@1', 'h@1', 'k@1'], entityKeys: [keyList(shared), keyList(shared), keyList([e(41), e(42)])] };
    const want = [
      [row(40), null, row(40)],
      [row(41), null, row(41)],
      [null, row(42)],
    ];
    // Calls and keys per command since a reset, without the test's own CONFIG and INFO.
    const counted = async (read: () => Promise<unknown>) => {
      await redis.config('RESETSTAT');
      const got = await read();
      const stats: Record<string, number> = {};
      for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_(\w+):calls=(\d+)/g)) if (m[1] !== 'config' && m[1] !== 'info') stats[m[1]] = Number(m[2]);
      return { got, stats };
    };
    // Direct: one MGET of all eight rows, nothing else.
    const direct = await counted(() => store.readRows(batch));
    expect(direct.stats).toEqual({ mget: 1 });
    expect(direct.got).toEqual(want);
    // Through the script: one call from the client (EVAL on first use on a connection, EVALSHA
    // after), doing the five MGETs (three entities of one group, two of the other) inside Redis.
    const script = await counted(() => scripted.readRows(batch));
    expect((script.stats.eval ?? 0) + (script.stats.evalsha ?? 0)).toBe(1);
    expect(script.stats).toEqual({ mget: 5, ...(script.stats.eval ? { eval: 1 } : { evalsha: 1 }) });
    expect(script.got).toEqual(want);
  });

  it('rows of every size come back whole, direct (replies over many socket reads) and through the read script (MessagePack str8, str16, str32)', async () => {
    const text = new RowEncoder([{ name: 's', type: 'string' }]);
    const sized = (len: number) => Buffer.from(text.encode(1, null, ['x'.repeat(len)]));
    const rows = [sized(1), sized(300), sized(70_000), sized(100), sized(1_000_000)];
    await store.writeRows(rows.map((r, i) => ({ view: 'big@1', entity: e(60 + i), row: r })));
    const keys = [e(60), e(61), e(99), e(62), e(63), e(64)];
    const want = [rows[0], rows[1], null, rows[2], rows[3], rows[4]];
    for (const s of [store, scripted]) {
      const got = (await s.readRows({ views: ['big@1'], entityKeys: [keyList(keys)] }))[0];
      // Buffer.equals: vitest's deep equality walks a 1 MB buffer byte by byte, for seconds.
      expect(got.map((r, i) => (r === null ? want[i] === null : want[i] !== null && r.equals(want[i]!)))).toEqual(want.map(() => true));
    }
  });

  it('row keys of every length reach their own rows, direct and packed into one script argument (two key groups)', async () => {
    const s = (v: string) => encodeEntityKey([{ name: 'name', type: 'string' }], [v]);
    // from empty to past 64 KB (the third byte of the 4-byte length), multi-byte UTF-8 among them
    const names = ['a', 'b'.repeat(255), 'c'.repeat(256), 'd'.repeat(70_000), '', 'é'.repeat(40_000)];
    const rows = names.map((_, i) => row(100 + i));
    await store.writeRows(names.map((n, i) => ({ view: 'named@1', entity: s(n), row: rows[i] })));
    await store.writeRows([{ view: 'byid@1', entity: e(70), row: row(70) }]);
    const keys = [...names.map(s), s('never written')];
    // views keyed differently: two groups in one read, rows in each group's own order
    for (const s of [store, scripted]) {
      const got = await s.readRows({ views: ['named@1', 'byid@1', 'named@1'], entityKeys: [keyList(keys), keyList([e(71), e(70)]), keyList([...keys].reverse())] });
      expect(got[0]).toEqual([...rows, null]);
      expect(got[1]).toEqual([null, row(70)]);
      expect(got[2]).toEqual([null, ...[...rows].reverse()]);
    }
  });

  it('a row key holding something else (a hash) reads as missing; writing to it fails with ONLINE_STORE_KEY_CONFLICT', async () => {
    const redis = store.redis as Redis;
    const key = keyOf('g@1', e(43));
    await redis.hset(key, 'x', 'not a row');
    // MGET answers nil for a key of another type: the row is NOT_FOUND, the read goes on.
    expect((await store.readRows({ views: ['g@1'], entityKeys: [keyList([e(40), e(43)])] }))[0]).toEqual([row(40), null]);
    await expect(store.writeRows([{ view: 'g@1', entity: e(43), row: row(43) }])).rejects.toMatchObject({ reason: 'ONLINE_STORE_KEY_CONFLICT', message: expect.stringMatching(/WRONGTYPE/) });
    expect(await redis.hget(key, 'x')).toBe('not a row');
    await redis.del(key);
  });

  it('fails fast with ONLINE_STORE_UNAVAILABLE while Redis is down and recovers when it returns', async () => {
    await store.writeRows([{ view: 'd@1', entity: e(5), row: row(1) }]);
    await server.stop();
    const t0 = Date.now();
    await expect(store.readRows({ views: ['d@1'], entityKeys: [keyList([e(5)])] })).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
    await expect(store.writeRows([{ view: 'd@1', entity: e(5), row: row(2) }])).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
    await expect(store.ping()).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
    expect(Date.now() - t0).toBeLessThan(1500);
    await server.restart(); // empty: no persistence
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      try {
        await store.ping();
        ok = true;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(ok).toBe(true);
    expect((await store.writeRows([{ view: 'd@1', entity: e(5), row: row(3) }])).written).toBe(1);
    expect((await store.readRows({ views: ['d@1'], entityKeys: [keyList([e(5)])] }))[0][0]).toEqual(row(3));
  });

  it('a hung server (SIGSTOP) fails reads within the command timeout instead of hanging', async () => {
    server.pause();
    try {
      const t0 = Date.now();
      await expect(store.readRows({ views: ['d@1'], entityKeys: [keyList([e(5)])] })).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
      await expect(scripted.readRows({ views: ['d@1'], entityKeys: [keyList([e(5)])] })).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(2500);
    } finally {
      server.resume();
    }
    // The timed-out read's late answer is not taken for the next read's (a different shape).
    for (const s of [store, scripted]) expect((await s.readRows({ views: ['d@1'], entityKeys: [keyList([e(6), e(5)])] }))[0]).toEqual([null, row(3)]);
  });

  it('a script call failing partway: Redis keeps earlier writes (non-atomic), an atomic call checks first and leaves nothing', async () => {
    const redis = store.redis as Redis;
    const wt = (id: number) => keyOf('wt@1', e(id));
    // A later key of the batch holds a hash, so GET on it answers WRONGTYPE.
    await redis.hset(wt(505), 'x', 'not a row');
    const batch = [500, 501, 502, 505, 506].map((id) => ({ view: 'wt@1', entity: e(id), row: row(id), expireAtMs: Date.now() + 60_000 }));
    // Stored rows the batch would replace (older), to see that none of them changes either.
    await store.writeRows([{ view: 'wt@1', entity: e(500), row: row(1) }]);
    const before = await redis.getBuffer(wt(500));
    const ttlBefore = await redis.pexpiretime(wt(500));

    await expect(store.writeRows(batch, { atomic: true })).rejects.toMatchObject({
      reason: 'ONLINE_STORE_KEY_CONFLICT',
      code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/^online store \(redis\) write failed: key ps:p1:wt@1:\{.*\} holds a hash, not a pitstop row \(string\); nothing was written$/s),
    });
    expect(await redis.getBuffer(wt(500))).toEqual(before);
    expect(await redis.pexpiretime(wt(500))).toBe(ttlBefore);
    for (const id of [501, 502, 506]) expect(await redis.exists(wt(id))).toBe(0);
    expect(await redis.hget(wt(505), 'x')).toBe('not a row');

    // What Redis itself does (why the check is needed): without it the same call stops at the
    // bad key, and the rows before it stay written; a script error is no rollback.
    await expect(store.writeRows(batch)).rejects.toMatchObject({ reason: 'ONLINE_STORE_KEY_CONFLICT', message: expect.stringMatching(/WRONGTYPE/) });
    expect((await store.readRows({ views: ['wt@1'], entityKeys: [keyList([e(500), e(501), e(502), e(506)])] }))[0]).toEqual([row(500), row(501), row(502), null]);
    await redis.del(wt(505));
  });

  it('an atomic call gets a timeout scaled to its rows, so a batch longer than command_timeout_ms is not reported as failed', async () => {
    // A 50 ms per-command timeout: far shorter than a 60,000-row script call (~3-6 µs per row,
    // so 200-400 ms). The atomic call's own timeout is 50 ms + 60,000 × 1 ms. (With
    // atomicMsPerRow: 0 this call rejects with "Command timed out" while Redis still applies
    // it: the old behaviour.)
    const n = 60_000;
    const rows = Array.from({ length: n }, (_, i) => ({ view: 'scaled@1', entity: e(2_000_000 + i), row: row(i) }));
    const tight = await RedisOnlineStore.create({ url: server.url, project: 'p1', commandTimeoutMs: 50, connectTimeoutMs: 2000, atomicMsPerRow: 1 });
    try {
      expect(await tight.writeRows(rows, { atomic: true })).toEqual({ written: n, stale: 0 });
      // After a SCRIPT FLUSH the atomic path falls back from EVALSHA to EVAL.
      await (store.redis as Redis).script('FLUSH');
      expect(await tight.writeRows(rows.slice(0, 10).map((r) => ({ ...r, row: row(n + 1) })), { atomic: true })).toEqual({ written: 10, stale: 0 });
    } finally {
      await tight.close();
    }
    expect((await store.readRows({ views: ['scaled@1'], entityKeys: [keyList([e(2_000_000), e(2_000_000 + n - 1)])] }))[0]).toEqual([row(n + 1), row(n - 1)]);
  }, 60_000);

  it('create() rejects quickly when nothing listens', async () => {
    const t0 = Date.now();
    await expect(RedisOnlineStore.create({ url: 'redis://127.0.0.1:1', project: 'p', connectTimeoutMs: 300 })).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('over a Unix socket with a password and a db: writes (ioredis) and reads (direct) both land in that db, and only there', async () => {
    const own = await startRedis({ unixSocket: true, args: ['--requirepass', 's3cret'] });
    const url = `unix://:s3cret@${own.socketPath}?db=3`;
    const viaSocket = await RedisOnlineStore.create({ url, project: 'p1', nearCacheBytes: 1 << 20 });
    const admin = new IORedis(`redis://:s3cret@127.0.0.1:${own.port}/3`);
    try {
      await viaSocket.writeRows([{ view: 'sock@1', entity: e(7), row: row(7) }]);
      expect(await admin.getBuffer(keyOf('sock@1', e(7)))).toEqual(row(7));
      expect(await admin.select(0).then(() => admin.exists(keyOf('sock@1', e(7))))).toBe(0);
      await admin.select(3);
      await admin.set(keyOf('sock@1', e(8)), row(8));
      expect((await viaSocket.readRows({ views: ['sock@1'], entityKeys: [keyList([e(7), e(8), e(9)])] }))[0]).toEqual([row(7), row(8), null]);
      // Every connection of the store is on the socket: none came over TCP but the admin's.
      const clients = String(await admin.call('CLIENT', 'LIST')).trim().split('\n');
      expect(clients.filter((c) => c.includes(`addr=${own.socketPath}:0`)).length).toBeGreaterThanOrEqual(3);
      expect(clients.filter((c) => c.includes('addr=127.0.0.1')).length).toBe(1);
    } finally {
      admin.disconnect();
      await viaSocket.close();
      await own.stop();
    }
  });

  it('a malformed unix: URL is CONFIG_INVALID naming it (password hidden); a socket nobody listens on is ONLINE_STORE_UNAVAILABLE', async () => {
    for (const url of ['unix://relative/redis.sock', 'unix:///tmp/r.sock?timeout=5', 'unix://u:secret@/tmp/r.sock?db=x']) {
      const err = await RedisOnlineStore.create({ url, project: 'p' }).catch((e) => e);
      expect(err, url).toMatchObject({ reason: 'CONFIG_INVALID' });
      expect(err.message, url).toContain('unix://[[user]:password@]/absolute/path/to/redis.sock[?db=N]');
      expect(err.message).not.toContain('secret');
    }
    expect(String((await RedisOnlineStore.create({ url: 'unix://u:secret@/tmp/r.sock?db=x', project: 'p' }).catch((e) => e)).message)).toContain('u:***@');
    await expect(RedisOnlineStore.create({ url: 'unix:///nonexistent/pitstop-test.sock', project: 'p', connectTimeoutMs: 300 })).rejects.toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
  });

  it('an atomic batch of 150,000 rows goes in one script call (no argument-count overflow in Node)', async () => {
    const n = 150_000;
    const rows = Array.from({ length: n }, (_, i) => ({ view: 'huge@1', entity: e(1_000_000 + i), row: row(i) }));
    // The one call runs for about a second: longer than this file's 500 ms command timeout.
    const patient = await RedisOnlineStore.create({ url: server.url, project: 'p1', commandTimeoutMs: 20_000 });
    try {
      expect(await patient.writeRows(rows, { atomic: true })).toEqual({ written: n, stale: 0 });
    } finally {
      await patient.close();
    }
    expect((await store.readRows({ views: ['huge@1'], entityKeys: [keyList([e(1_000_000 + n - 1)])] }))[0][0]).toEqual(row(n - 1));
  }, 20_000);

  for (const atomic of [true, false]) {
    it(`connection lost mid-write with the server stalled: ${atomic ? 'an atomic batch leaves nothing' : 'a non-atomic batch leaves a prefix'}`, async () => {
      // 40,000 rows of 1 KB: far more than the socket buffers hold while the server is stopped,
      // so the connection dies with the request only partly received by Redis.
      const n = 40_000;
      const big = Buffer.alloc(1024, 1);
      big[0] = 1;
      big.writeDoubleLE(1000, 1);
      big.writeDoubleLE(0, 9);
      const writer = await RedisOnlineStore.create({ url: server.url, project: `cut-${atomic}`, commandTimeoutMs: 20_000 });
      const admin = store.redis as Redis;
      try {
        const before = await admin.dbsize();
        const rows = Array.from({ length: n }, (_, i) => ({ view: 'cut@1', entity: e(100_000 + i), row: big }));
        server.pause();
        let failed: unknown;
        try {
          const pending = writer.writeRows(rows, { atomic }).catch((err) => (failed = err));
          await new Promise((r) => setTimeout(r, 300));
          (writer.redis as Redis).stream.destroy(); // drop what is not yet on the wire
          await pending;
        } finally {
          server.resume();
        }
        expect(failed).toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
        await new Promise((r) => setTimeout(r, 300)); // let Redis read what reached it
        const added = (await admin.dbsize()) - before;
        if (atomic) expect(added).toBe(0);
        else {
          expect(added).toBeGreaterThan(0);
          expect(added).toBeLessThan(n);
        }
      } finally {
        await writer.close();
      }
    }, 20_000);
  }

  it('an aborted read rejects with DEADLINE_EXCEEDED, before it is sent or while Redis has not answered', async () => {
    const ac = new AbortController();
    ac.abort();
    for (const s of [store, scripted]) await expect(s.readRows({ views: ['d@1'], entityKeys: [keyList([e(5)])] }, { signal: ac.signal })).rejects.toMatchObject({ reason: 'DEADLINE_EXCEEDED' });
    await store.writeRows([{ view: 'ab@1', entity: e(8), row: row(8) }]);
    server.pause();
    try {
      for (const s of [store, scripted]) {
        const late = new AbortController();
        const t0 = Date.now();
        setTimeout(() => late.abort(), 50);
        await expect(s.readRows({ views: ['ab@1'], entityKeys: [keyList([e(8)])] }, { signal: late.signal })).rejects.toMatchObject({ reason: 'DEADLINE_EXCEEDED' });
        // DEADLINE_EXCEEDED is the abort's; the 500 ms command timeout would be ONLINE_STORE_UNAVAILABLE.
        expect(Date.now() - t0).toBeLessThan(1500);
      }
    } finally {
      server.resume();
    }
    for (const s of [store, scripted]) expect((await s.readRows({ views: ['ab@1'], entityKeys: [keyList([e(9), e(8)])] }))[0]).toEqual([null, row(8)]);
  });
});
