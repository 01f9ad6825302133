/**
 * The online store's MGET connection (src/online/redis/read-connection.ts): its reply parser
 * driven directly at every split point, and the connection against real redis-servers (values,
 * errors, AUTH/SELECT, TLS, timeouts and aborts without desync, reconnects, close) and against
 * a fake server where a real one cannot misbehave on demand (a broken reply, a dropped socket).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type RedisServer } from '../support/redis-server.ts';
import {
  MgetProtocolError,
  MgetReplyParser,
  RedisReadConnection,
  bulkHeaderLength,
  bulkLength,
  encodeMget,
  mgetHeaderLength,
  writeBulk,
  writeBulkHeader,
  writeMgetHeader,
  type MgetReplyTarget,
} from '../../src/online/redis/read-connection.ts';
import { parseRedisUrl } from '../../src/online/redis/redis-url.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------------------------
// The parser alone
// ---------------------------------------------------------------------------------------------

/** A reply as the test writes it: RESP text (latin1: one char per byte) and what it must parse to. */
interface Case {
  resp: string;
  count: number;
  /** Values (latin1 strings, null for nil), or an error message. */
  want: (string | null)[] | { error: string };
}

type Outcome = { values: (string | null)[]; bytes: string } | { error: string };

/** Feeds `stream` cut at `cuts` to a fresh parser expecting replies of `counts`; what it delivered. */
function parse(stream: Buffer, counts: number[], cuts: number[]): Outcome[] {
  const targets: MgetReplyTarget[] = counts.map((count) => ({ count, spans: new Int32Array(2 * count).fill(99) }));
  const out: Outcome[] = [];
  let k = 0;
  const parser = new MgetReplyParser({
    next: () => targets[k] ?? null,
    reply: (data) => {
      const t = targets[k++];
      const s = t.spans!;
      const values: (string | null)[] = [];
      for (let i = 0; i < t.count; i++) {
        if (s[2 * i] === -1 && s[2 * i + 1] === -1) values.push(null);
        else {
          if (!(s[2 * i] >= 0 && s[2 * i] <= s[2 * i + 1] && s[2 * i + 1] <= data.length)) throw new Error(`span ${i} [${s[2 * i]}, ${s[2 * i + 1]}) outside the reply (${data.length} bytes)`);
          values.push(data.toString('latin1', s[2 * i], s[2 * i + 1]));
        }
      }
      out.push({ values, bytes: data.toString('latin1') });
    },
    error: (message) => {
      k++;
      out.push({ error: message });
    },
  });
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    parser.feed(stream.subarray(from, cut));
    from = cut;
  }
  return out;
}

const expected = (cases: Case[]): Outcome[] => cases.map((c) => (Array.isArray(c.want) ? { values: c.want, bytes: c.resp } : c.want));
const streamOf = (cases: Case[]) => Buffer.from(cases.map((c) => c.resp).join(''), 'latin1');

const SMALL: Case[] = [
  { resp: '*3\r\n$3\r\nfoo\r\n$-1\r\n$0\r\n\r\n', count: 3, want: ['foo', null, ''] },
  // values holding CR, LF, CRLF, NUL and bytes >= 0x80: a value is its length, never a line
  { resp: '*2\r\n$4\r\n\r\n\r\n\r\n$6\r\na\r\n\x00\xffb\r\n', count: 2, want: ['\r\n\r\n', 'a\r\n\x00\xffb'] },
  { resp: "-ERR unknown command 'BOGUS', with args beginning with: \r\n", count: 1, want: { error: "ERR unknown command 'BOGUS', with args beginning with: " } },
  { resp: '*1\r\n$-1\r\n', count: 1, want: [null] },
  { resp: '*0\r\n', count: 0, want: [] },
  { resp: '*2\r\n$0\r\n\r\n$12\r\n0123456789ab\r\n', count: 2, want: ['', '0123456789ab'] },
  { resp: '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n', count: 2, want: { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' } },
  { resp: `*11\r\n${'$1\r\nx\r\n'.repeat(10)}$-1\r\n`, count: 11, want: [...Array(10).fill('x'), null] },
];

describe('MgetReplyParser', () => {
  const stream = streamOf(SMALL);
  const counts = SMALL.map((c) => c.count);
  const want = expected(SMALL);

  it('parses pipelined replies in one chunk: values, nils, empty strings, binary, error replies', () => {
    expect(parse(stream, counts, [])).toEqual(want);
  });

  it('gives the same result at every split point, and every pair of split points', () => {
    for (let a = 1; a < stream.length; a++) {
      expect(parse(stream, counts, [a]), `cut at ${a}`).toEqual(want);
    }
    // pairs over the first four replies (~45,000 pairs over all of them would be slow)
    const few = SMALL.slice(0, 4);
    const s4 = streamOf(few);
    const want4 = JSON.stringify(expected(few));
    for (let a = 1; a < s4.length; a++) {
      for (let b = a + 1; b < s4.length; b++) {
        const got = parse(s4, few.map((c) => c.count), [a, b]);
        // toEqual per pair would be slow; compare as JSON and report a failure with toEqual
        if (JSON.stringify(got) !== want4) expect(got, `cuts at ${a}, ${b}`).toEqual(expected(few));
      }
    }
  });

  it('parses one byte at a time', () => {
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(parse(stream, counts, cuts)).toEqual(want);
  });

  it('hands out a reply that sits in one chunk as a view of it (no copy), one spanning chunks from a buffer of its own', () => {
    const chunk = Buffer.from('*1\r\n$3\r\nabc\r\n*1\r\n$3\r\ndef\r\n', 'latin1');
    const got: Buffer[] = [];
    const targets = [1, 1, 1].map((count) => ({ count, spans: new Int32Array(2) }));
    let k = 0;
    const parser = new MgetReplyParser({ next: () => targets[k], reply: (d) => (k++, got.push(d)), error: () => k++ });
    parser.feed(chunk);
    expect(got.map((d) => d.buffer === chunk.buffer)).toEqual([true, true]);
    expect(got[1].byteOffset - chunk.byteOffset).toBe(13);
    // the third reply cut in two: gathered, its offset 0 is its first byte, spans point into it
    parser.feed(Buffer.from('*1\r\n$5\r\nhe', 'latin1'));
    parser.feed(Buffer.from('llo\r\n', 'latin1'));
    expect(got).toHaveLength(3);
    expect(got[2].toString('latin1')).toBe('*1\r\n$5\r\nhello\r\n');
    expect([...targets[2].spans]).toEqual([8, 13]);
  });

  it('writes no spans for a request settled in the middle of its reply, and still consumes the reply', () => {
    const spans = new Int32Array(4).fill(7);
    const targets: MgetReplyTarget[] = [
      { count: 2, spans },
      { count: 1, spans: new Int32Array(2) },
    ];
    const done: Buffer[] = [];
    let k = 0;
    const parser = new MgetReplyParser({ next: () => targets[k], reply: (d) => (k++, done.push(Buffer.from(d))), error: () => k++ });
    parser.feed(Buffer.from('*2\r\n$1\r\na\r\n$', 'latin1'));
    expect([...spans]).toEqual([8, 9, 7, 7]);
    targets[0].spans = null; // timed out: the caller may reuse `spans` from now on
    spans.fill(-5);
    parser.feed(Buffer.from('1\r\nb\r\n*1\r\n$1\r\nc\r\n', 'latin1'));
    expect([...spans]).toEqual([-5, -5, -5, -5]);
    expect(done.map((d) => d.toString())).toEqual(['*2\r\n$1\r\na\r\n$1\r\nb\r\n', '*1\r\n$1\r\nc\r\n']);
    expect([...targets[1].spans!]).toEqual([8, 9]);
  });

  it('parses large pipelined replies fed in chunks of random sizes', () => {
    const cases: Case[] = [];
    for (let r = 0; r < 6; r++) {
      const values: (string | null)[] = [];
      for (let i = 0; i < 500; i++) values.push(Math.random() < 0.1 ? null : randomBytes(Math.floor(Math.random() * 300)).toString('latin1'));
      const resp = `*${values.length}\r\n${values.map((v) => (v === null ? '$-1\r\n' : `$${v.length}\r\n${v}\r\n`)).join('')}`;
      cases.push({ resp, count: values.length, want: values });
    }
    const big = streamOf(cases);
    for (let round = 0; round < 20; round++) {
      const cuts: number[] = [];
      const max = [3, 50, 1000, 20_000][round % 4];
      for (let at = 1 + Math.floor(Math.random() * max); at < big.length; at += 1 + Math.floor(Math.random() * max)) cuts.push(at);
      const got = parse(
        big,
        cases.map((c) => c.count),
        cuts,
      );
      if (JSON.stringify(got) !== JSON.stringify(expected(cases))) expect(got).toEqual(expected(cases));
    }
  });

  const BROKEN: { name: string; resp: string; count: number; message: RegExp }[] = [
    { name: 'an array of another length', resp: '*2\r\n$1\r\na\r\n$1\r\nb\r\n', count: 3, message: /expected an array of 3/ },
    { name: 'an integer reply', resp: ':1\r\n', count: 1, message: /expected an array of 1, got ":/ },
    { name: 'a status reply', resp: '+OK\r\n', count: 1, message: /expected an array of 1/ },
    { name: 'a nil array', resp: '*-1\r\n', count: 1, message: /expected an array of 1/ },
    { name: 'an error as an element', resp: '*1\r\n-ERR x\r\n', count: 1, message: /bulk string or nil as element 0/ },
    { name: 'an integer as an element', resp: '*2\r\n$1\r\na\r\n:5\r\n', count: 2, message: /element 1/ },
    { name: 'a value longer than its length', resp: '*1\r\n$3\r\nfooX\r\n', count: 1, message: /CRLF after element 0/ },
    { name: 'a length with no digits', resp: '*1\r\n$\r\nab\r\n', count: 1, message: /element 0/ },
    { name: 'a negative length other than -1', resp: '*1\r\n$-2\r\n', count: 1, message: /element 0/ },
  ];

  for (const b of BROKEN) {
    it(`throws MgetProtocolError on ${b.name}, at every split point`, () => {
      // a good reply first: it is delivered, the broken one never is
      const good = SMALL[0];
      const s = Buffer.from(good.resp + b.resp, 'latin1');
      for (let a = 0; a < s.length; a++) {
        let error: unknown;
        try {
          parse(s, [good.count, b.count], a === 0 ? [] : [a]);
        } catch (e) {
          error = e;
        }
        expect(error, `cut at ${a}`).toBeInstanceOf(MgetProtocolError);
        expect((error as Error).message).toMatch(b.message);
      }
    });
  }

  it('throws on data no request is waiting for', () => {
    const parser = new MgetReplyParser({ next: () => null, reply: () => {}, error: () => {} });
    expect(() => parser.feed(Buffer.from('*1\r\n$-1\r\n'))).toThrow(/no request waiting/);
  });
});

// ---------------------------------------------------------------------------------------------
// Command encoding
// ---------------------------------------------------------------------------------------------

describe('MGET encoding', () => {
  it('writes the RESP of MGET with digits of every width', () => {
    const keys = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('x'.repeat(10)), Buffer.from('\r\n\x00', 'latin1'), Buffer.from('k'.repeat(100))];
    const want = `*6\r\n$4\r\nMGET\r\n$1\r\na\r\n$0\r\n\r\n$10\r\n${'x'.repeat(10)}\r\n$3\r\n\r\n\x00\r\n$100\r\n${'k'.repeat(100)}\r\n`;
    expect(encodeMget(keys).toString('latin1')).toBe(want);
    for (const n of [0, 8, 9, 10, 98, 99, 100, 12345]) {
      const buf = Buffer.alloc(mgetHeaderLength(n));
      expect(writeMgetHeader(buf, 0, n)).toBe(buf.length);
      expect(buf.toString()).toBe(`*${n + 1}\r\n$4\r\nMGET\r\n`);
    }
    for (const len of [0, 1, 9, 10, 99, 100, 1_000_000]) {
      const buf = Buffer.alloc(bulkHeaderLength(len) + 2);
      expect(writeBulkHeader(buf, 2, len)).toBe(buf.length);
      expect(buf.subarray(2).toString()).toBe(`$${len}\r\n`);
      expect(bulkLength(len)).toBe(bulkHeaderLength(len) + len + 2);
    }
    const one = Buffer.alloc(bulkLength(3) + 1);
    expect(writeBulk(one, 1, Buffer.from('abc'))).toBe(one.length);
    expect(one.subarray(1).toString()).toBe('$3\r\nabc\r\n');
  });

  it('supports redis: and rediss: URLs without a query string, with a numeric db; unix: socket URLs with ?db= at most', () => {
    for (const url of ['redis://127.0.0.1:6380', 'redis://localhost', 'redis://h:1/0', 'redis://h:1/15', 'redis://:pw@h:1/2', 'redis://user:pw@h', 'rediss://h:6380/3', 'redis://[::1]:6379', 'unix:///tmp/redis.sock', 'unix:///run/r.sock?db=3', 'unix://:pw@/tmp/r.sock', 'unix://user:p%40w@/tmp/r.sock?db=0']) {
      expect(RedisReadConnection.supports(url), url).toBe(true);
    }
    for (const url of ['http://h:1', 'redis+sentinel://h:1', 'redis://h:1?db=2', 'redis://h:1/x', 'redis://h:1/-1', 'redis://h:1/1/2', 'redis://h:1/1.5', 'not a url', 'redis://h:1/0#frag', 'unix://tmp/redis.sock', 'unix:/tmp/r.sock', 'unix:///tmp/r.sock?tls=true', 'unix:///tmp/r.sock?db=x', 'unix://u:%zz@/tmp/r.sock']) {
      expect(RedisReadConnection.supports(url), url).toBe(false);
    }
    expect(parseRedisUrl('unix://user:p%40w@/tmp/r.sock?db=4')).toEqual({ host: '', port: 0, path: '/tmp/r.sock', tls: false, username: 'user', password: 'p@w', db: 4 });
  });
});

// ---------------------------------------------------------------------------------------------
// Against real redis-servers
// ---------------------------------------------------------------------------------------------

const OPTS = { connectTimeoutMs: 1000, commandTimeoutMs: 1000 };

/** MGET of `keys` through `conn`; the values copied out of the reply by their spans. */
async function read(conn: RedisReadConnection, keys: (string | Buffer)[], signal?: AbortSignal, spans = new Int32Array(2 * keys.length)): Promise<(Buffer | null)[]> {
  const data = await conn.mget(encodeMget(keys.map((k) => (typeof k === 'string' ? Buffer.from(k) : k))), keys.length, spans, signal);
  return keys.map((_, i) => (spans[2 * i] === -1 ? null : Buffer.from(data.subarray(spans[2 * i], spans[2 * i + 1]))));
}

const text = (values: (Buffer | null)[]) => values.map((v) => (v === null ? null : v.toString()));

describe('RedisReadConnection', () => {
  let server: RedisServer;
  let admin: Redis;
  let conn: RedisReadConnection;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
    conn = await RedisReadConnection.connect({ url: server.url, ...OPTS });
  });
  afterAll(async () => {
    await conn?.close();
    admin?.disconnect();
    await server?.stop();
  });

  it('reads values byte-exact through spans: binary, CRLF inside, empty, nil', async () => {
    const bin = Buffer.from([0, 13, 10, 255, 36, 45, 49, 13, 10, 42]);
    await admin.set('v:text', 'hello');
    await admin.set('v:bin', bin);
    await admin.set('v:empty', '');
    await admin.set(Buffer.from('v:\r\nkey\x00', 'latin1'), 'odd key');
    const got = await read(conn, ['v:text', 'v:missing', 'v:bin', 'v:empty', Buffer.from('v:\r\nkey\x00', 'latin1'), 'v:missing2']);
    expect(got).toEqual([Buffer.from('hello'), null, bin, Buffer.alloc(0), Buffer.from('odd key'), null]);
    // an empty value is a span of length 0, not a nil
    const spans = new Int32Array(2);
    await conn.mget(encodeMget([Buffer.from('v:empty')]), 1, spans);
    expect(spans[0]).toBeGreaterThan(0);
    expect(spans[1]).toBe(spans[0]);
    expect(conn.ready).toBe(true);
  });

  it('reads a 2,000-key MGET of ~200-byte values (a reply over many chunks), several at once', async () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `big:${i}`);
    const values = keys.map(() => randomBytes(150 + Math.floor(Math.random() * 100)));
    const pipe = admin.pipeline();
    keys.forEach((k, i) => (i % 13 === 5 ? pipe.del(k) : pipe.set(k, values[i])));
    await pipe.exec();
    const want = values.map((v, i) => (i % 13 === 5 ? null : v));
    const check = (got: (Buffer | null)[]) => {
      let bad = 0;
      got.forEach((v, i) => {
        if (v === null ? want[i] !== null : want[i] === null || !v.equals(want[i]!)) bad++;
      });
      expect(bad).toBe(0);
    };
    check(await read(conn, keys));
    // pipelined: gathered replies back to back, with a small one between them
    const results = await Promise.all([read(conn, keys), read(conn, ['v:text']), read(conn, keys.slice().reverse()), read(conn, keys)]);
    check(results[0]);
    expect(text(results[1])).toEqual(['hello']);
    check(results[2].reverse());
    check(results[3]);
  });

  it('pipelines: 50 requests in flight, each gets its own values', async () => {
    const pipe = admin.pipeline();
    for (let r = 0; r < 50; r++) for (let i = 0; i < 20; i++) pipe.set(`p:${r}:${i}`, `${r}/${i}/${'x'.repeat(r * 7)}`);
    await pipe.exec();
    const results = await Promise.all(Array.from({ length: 50 }, (_, r) => read(conn, Array.from({ length: 1 + (r % 20) }, (_, i) => `p:${r}:${i}`))));
    results.forEach((got, r) => expect(text(got)).toEqual(Array.from({ length: 1 + (r % 20) }, (_, i) => `${r}/${i}/${'x'.repeat(r * 7)}`)));
  });

  it('commandBuffer: the same buffer again once the socket took all of it; a new one while the socket still holds bytes of it', async () => {
    const build = (keys: string[]) => {
      const bufs = keys.map((k) => Buffer.from(k));
      let size = mgetHeaderLength(bufs.length);
      for (const b of bufs) size += bulkLength(b.length);
      const cmd = conn.commandBuffer(size);
      let at = writeMgetHeader(cmd, 0, bufs.length);
      for (const b of bufs) at = writeBulk(cmd, at, b);
      return cmd.subarray(0, at);
    };
    await admin.set('v:text', 'hello');
    const small = build(['v:text']);
    let spans = new Int32Array(2);
    let data = await conn.mget(small, 1, spans);
    expect(data.toString('latin1', spans[0], spans[1])).toBe('hello');
    const again = conn.commandBuffer(16);
    expect(again.buffer).toBe(small.buffer); // reused: the small command went out at once
    // ~12 MB of keys: more than a socket takes at once, so the command stays partly queued.
    const many = Array.from({ length: 200_000 }, (_, i) => `v:absent:${i}:${'k'.repeat(40)}`);
    many[199_999] = 'v:text';
    const big = build(many);
    spans = new Int32Array(2 * many.length);
    const pending = conn.mget(big, many.length, spans);
    const next = conn.commandBuffer(16);
    expect(next.buffer).not.toBe(big.buffer); // the queued bytes are left alone
    next.fill(0); // (writing into the new buffer must not touch what is still being sent)
    data = await pending;
    expect(spans[0]).toBe(-1);
    expect(data.toString('latin1', spans[2 * 199_999], spans[2 * 199_999 + 1])).toBe('hello');
  }, 20_000);

  it('mgetMany: several MGETs in one write, their spans side by side in one array, each relative to its own reply', async () => {
    await admin.mset('m:a', 'A', 'm:b', 'BB', 'm:c', 'CCC');
    const groups = [['m:a', 'm:none'], ['m:c'], ['m:b', 'm:a', 'm:c']];
    const command = Buffer.concat(groups.map((g) => encodeMget(g.map((k) => Buffer.from(k)))));
    const spans = new Int32Array(2 * 6).fill(7);
    const replies = await conn.mgetMany(command, [2, 1, 3], [0, 2, 3], spans);
    expect(replies).toHaveLength(3);
    const at = (r: number, i: number) => (spans[2 * i] < 0 ? null : replies[r].toString('latin1', spans[2 * i], spans[2 * i + 1]));
    expect([at(0, 0), at(0, 1), at(1, 2), at(2, 3), at(2, 4), at(2, 5)]).toEqual(['A', null, 'CCC', 'BB', 'A', 'CCC']);
  });

  it('mgetMany: one failing MGET (an error reply) fails the call, the next request still gets its own reply, and replies after an abort write nothing', async () => {
    await admin.mset('m:a', 'A', 'm:b', 'BB');
    const bogus = Buffer.from('*1\r\n$5\r\nBOGUS\r\n');
    const command = Buffer.concat([encodeMget([Buffer.from('m:a')]), bogus, encodeMget([Buffer.from('m:b')])]);
    const spans = new Int32Array(6).fill(7);
    await expect(conn.mgetMany(command, [1, 1, 1], [0, 1, 2], spans)).rejects.toThrow(/unknown command/i);
    expect(text(await read(conn, ['m:b', 'm:a']))).toEqual(['BB', 'A']);
    // and an abort gives the whole batch up at once
    server.pause();
    try {
      const ac = new AbortController();
      const many = conn.mgetMany(Buffer.concat([encodeMget([Buffer.from('m:a')]), encodeMget([Buffer.from('m:b')])]), [1, 1], [0, 1], spans.fill(7), ac.signal);
      setTimeout(() => ac.abort(), 20);
      await expect(many).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      server.resume();
    }
    expect(text(await read(conn, ['m:a']))).toEqual(['A']);
    expect([...spans]).toEqual([7, 7, 7, 7, 7, 7]); // replies that came after the rejection wrote nothing
  });

  it("rejects an error reply with Redis' text; the connection goes on", async () => {
    const bogus = Buffer.from('*1\r\n$5\r\nBOGUS\r\n');
    await expect(conn.mget(bogus, 1, new Int32Array(2))).rejects.toThrow(/^ERR unknown command 'BOGUS'/);
    expect(conn.ready).toBe(true);
    // between pipelined good requests: only its own request fails
    const [a, b, c] = await Promise.allSettled([read(conn, ['v:text']), conn.mget(bogus, 1, new Int32Array(2)), read(conn, ['v:missing', 'v:text'])]);
    expect(a).toEqual({ status: 'fulfilled', value: [Buffer.from('hello')] });
    expect(b.status).toBe('rejected');
    expect(c).toEqual({ status: 'fulfilled', value: [null, Buffer.from('hello')] });
  });

  it('refuses spans too small for the keys', async () => {
    await expect(conn.mget(encodeMget([Buffer.from('a'), Buffer.from('b')]), 2, new Int32Array(3))).rejects.toThrow(RangeError);
  });

  it('selects the db of the url', async () => {
    const db3 = new Redis(`${server.url}/3`);
    await db3.set('db:key', 'in db 3');
    db3.disconnect();
    const c3 = await RedisReadConnection.connect({ url: `${server.url}/3`, ...OPTS });
    try {
      expect(text(await read(c3, ['db:key']))).toEqual(['in db 3']);
      expect(text(await read(conn, ['db:key']))).toEqual([null]);
    } finally {
      await c3.close();
    }
    await expect(RedisReadConnection.connect({ url: `${server.url}/99`, ...OPTS })).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${server.port} failed: SELECT 99: ERR DB index is out of range`));
  });

  it('connect errors name host:port and the cause: refused, timeout, bad url', async () => {
    const port = await freePort();
    await expect(RedisReadConnection.connect({ url: `redis://127.0.0.1:${port}`, ...OPTS })).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`));
    // a hung server accepts TCP connections (the kernel does) but never answers
    const hung = await startRedis();
    hung.pause();
    try {
      const t0 = performance.now();
      await expect(RedisReadConnection.connect({ url: hung.url, connectTimeoutMs: 200, commandTimeoutMs: 100 })).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${hung.port} failed: timed out after 200 ms`));
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      hung.resume();
      await hung.stop();
    }
    await expect(RedisReadConnection.connect({ url: 'redis://u:secret@127.0.0.1:1/0?tls=true', ...OPTS })).rejects.toThrow(/unsupported url.*u:\*\*\*@/);
    await expect(RedisReadConnection.connect({ url: server.url, connectTimeoutMs: 1000, commandTimeoutMs: 0 })).rejects.toThrow(RangeError);
  });

  it("a timed-out request stays queued: its late reply is discarded, not taken for the next request's", async () => {
    await admin.mset('t:a', 'value A', 't:b', 'value B');
    const c = await RedisReadConnection.connect({ url: server.url, connectTimeoutMs: 1000, commandTimeoutMs: 100 });
    try {
      server.pause();
      const spansA = new Int32Array(2).fill(7);
      const t0 = performance.now();
      const a = read(c, ['t:a'], undefined, spansA);
      await expect(a).rejects.toThrow(/timed out after 100 ms/);
      expect(performance.now() - t0).toBeLessThan(800); // the timeout, not the 1 s connect timeout or a hang
      // A's reply is still owed: B is sent after it and must get B's
      const b = read(c, ['t:b', 't:a']);
      await sleep(20);
      server.resume();
      expect(text(await b)).toEqual(['value B', 'value A']);
      // the rejected request's spans were left alone when its reply came
      expect([...spansA]).toEqual([7, 7]);
      expect(c.ready).toBe(true);
    } finally {
      server.resume();
      await c.close();
    }
  });

  it('an aborted request rejects at once with AbortError, and does not desynchronise the FIFO either', async () => {
    await admin.mset('t:a', 'value A', 't:b', 'value B');
    // pre-aborted: never sent
    const gone = new AbortController();
    gone.abort();
    await expect(read(conn, ['t:a'], gone.signal)).rejects.toMatchObject({ name: 'AbortError' });
    server.pause();
    try {
      const ac = new AbortController();
      const a = read(conn, ['t:a'], ac.signal);
      const t0 = performance.now();
      setTimeout(() => ac.abort(), 20);
      await expect(a).rejects.toMatchObject({ name: 'AbortError' });
      expect(performance.now() - t0).toBeLessThan(600); // the abort at 20 ms, not the 1 s command timeout
      const b = read(conn, ['t:b']);
      server.resume();
      expect(text(await b)).toEqual(['value B']);
      // a signal that is never aborted changes nothing
      expect(text(await read(conn, ['t:a'], new AbortController().signal))).toEqual(['value A']);
    } finally {
      server.resume();
    }
  });

  it('survives a server that sleeps (DEBUG SLEEP): timed-out requests are skipped, later ones answered', async () => {
    const slow = await startRedis({ args: ['--enable-debug-command', 'local'] });
    const slowAdmin = new Redis(slow.url);
    const c = await RedisReadConnection.connect({ url: slow.url, connectTimeoutMs: 1000, commandTimeoutMs: 250 });
    try {
      await slowAdmin.mset('a', 'A', 'b', 'B');
      const sleeping = slowAdmin.call('DEBUG', 'SLEEP', '0.4');
      await sleep(30);
      const a1 = read(c, ['a']);
      const a2 = read(c, ['b', 'a']);
      await expect(a1).rejects.toThrow(/timed out/);
      await expect(a2).rejects.toThrow(/timed out/);
      const b = read(c, ['b', 'missing', 'a']);
      expect(text(await b)).toEqual(['B', null, 'A']);
      await sleeping;
    } finally {
      await c.close();
      slowAdmin.disconnect();
      await slow.stop();
    }
  });

  it('reconnects after the server restarts, SELECTs again, and rejects at once while down', async () => {
    const own = await startRedis();
    const c = await RedisReadConnection.connect({ url: `${own.url}/2`, connectTimeoutMs: 500, commandTimeoutMs: 500 });
    try {
      await own.stop();
      await waitUntil(() => !c.ready, 'the connection to notice');
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await expect(read(c, ['k'])).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${own.port} is not connected`));
        expect(performance.now() - t0).toBeLessThan(250); // at once: not the 500 ms command timeout
        await sleep(150);
      }
      await own.restart();
      const db2 = new Redis(`${own.url}/2`);
      await db2.set('k', 'after restart');
      db2.disconnect();
      await waitUntil(() => c.ready, 'the reconnect', 3000);
      expect(text(await read(c, ['k']))).toEqual(['after restart']);
    } finally {
      await c.close();
      await own.stop();
    }
  });

  it('over a Unix socket (unix://): AUTH and SELECT too, errors name the path, and it reconnects after a restart', async () => {
    const own = await startRedis({ unixSocket: true, args: ['--requirepass', 's3cret'] });
    const admin = `redis://:s3cret@127.0.0.1:${own.port}/2`;
    const root = new Redis(admin);
    const sock = own.socketPath!;
    try {
      await root.set('sock:key', 'in db 2, over the socket');
      const c = await RedisReadConnection.connect({ url: `unix://:s3cret@${sock}?db=2`, ...OPTS });
      try {
        expect(text(await read(c, ['sock:key', 'sock:missing']))).toEqual(['in db 2, over the socket', null]);
        // The connection is the socket's: Redis lists it with no TCP address (addr is "/path:0").
        const clients = String(await root.call('CLIENT', 'LIST'));
        expect(clients).toContain(`addr=${sock}:0`);
        await expect(RedisReadConnection.connect({ url: `unix://:wrong@${sock}`, ...OPTS })).rejects.toThrow(new RegExp(`${sock.replace(/[.]/g, '\\.')} failed: AUTH: WRONGPASS`));
        await own.restart();
        await waitUntil(() => !c.ready, 'the connection to drop');
        // Restarted empty: the connection comes back by itself, AUTH and SELECT again.
        const fresh = new Redis(admin);
        await fresh.set('sock:key', 'after the restart');
        fresh.disconnect();
        await waitUntil(() => c.ready, 'the reconnect', 3000);
        expect(text(await read(c, ['sock:key']))).toEqual(['after the restart']);
      } finally {
        await c.close();
      }
      const gone = path.join(path.dirname(sock), 'nobody.sock');
      await expect(RedisReadConnection.connect({ url: `unix://${gone}`, ...OPTS })).rejects.toThrow(new RegExp(`nobody\\.sock failed: .*ENOENT`));
    } finally {
      root.disconnect();
      await own.stop();
    }
  });

  it('AUTH: password, user and password, wrong password, none; and AUTH again after a reconnect', async () => {
    const own = await startRedis();
    const root = new Redis(own.url);
    try {
      await root.call('ACL', 'SETUSER', 'reader', 'on', '>reader pw', '~*', '+@all');
      await root.config('SET', 'requirepass', 's3cret');
      await root.set('secret:key', 'behind auth');
      const url = (auth: string) => `redis://${auth}127.0.0.1:${own.port}`;
      const byPassword = await RedisReadConnection.connect({ url: url(':s3cret@'), ...OPTS });
      const byUser = await RedisReadConnection.connect({ url: url(`reader:${encodeURIComponent('reader pw')}@`), ...OPTS });
      try {
        expect(text(await read(byPassword, ['secret:key']))).toEqual(['behind auth']);
        expect(text(await read(byUser, ['secret:key']))).toEqual(['behind auth']);
        await expect(RedisReadConnection.connect({ url: url(':wrong@'), ...OPTS })).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${own.port} failed: AUTH: WRONGPASS`));
        await expect(RedisReadConnection.connect({ url: url('reader:wrong@'), ...OPTS })).rejects.toThrow(/AUTH: WRONGPASS/);
        await expect(RedisReadConnection.connect({ url: url(''), ...OPTS })).rejects.toThrow(/PING: NOAUTH/);
        // kill every client but root's: both connections come back, authenticated
        await root.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        await waitUntil(() => !byPassword.ready && !byUser.ready, 'the connections to drop');
        await waitUntil(() => byPassword.ready && byUser.ready, 'the reconnects', 3000);
        expect(text(await read(byPassword, ['secret:key']))).toEqual(['behind auth']);
        expect(text(await read(byUser, ['secret:key']))).toEqual(['behind auth']);
      } finally {
        await byPassword.close();
        await byUser.close();
      }
    } finally {
      root.disconnect();
      await own.stop();
    }
  });

  it('a hung server: requests time out, then the connection is presumed dead and replaced', async () => {
    const own = await startRedis();
    const c = await RedisReadConnection.connect({ url: own.url, connectTimeoutMs: 200, commandTimeoutMs: 100 });
    try {
      own.pause();
      const t0 = performance.now();
      await expect(read(c, ['k'])).rejects.toThrow(/timed out/);
      // requests keep timing out (not queued behind a dead socket forever)...
      while (c.ready) {
        await expect(read(c, ['k'])).rejects.toThrow(/timed out|no reply for/);
        expect(performance.now() - t0).toBeLessThan(5000);
      }
      // ...until the oldest has waited 2 s: the socket is dropped, reconnects fail (PING times out)
      expect(performance.now() - t0).toBeGreaterThan(1900);
      await expect(read(c, ['k'])).rejects.toThrow(/not connected/);
      own.resume();
      await waitUntil(() => c.ready, 'the reconnect', 3000);
      expect(text(await read(c, ['k']))).toEqual([null]);
    } finally {
      own.resume();
      await c.close();
      await own.stop();
    }
  });

  it('close() rejects pending requests, refuses new ones, and ends a reconnect loop', async () => {
    const own = await startRedis();
    const c = await RedisReadConnection.connect({ url: own.url, ...OPTS });
    own.pause();
    const pending = Promise.allSettled([read(c, ['a']), read(c, ['b'])]);
    await c.close();
    own.resume();
    for (const p of await pending) expect(p.status === 'rejected' && p.reason.message).toMatch(/127\.0\.0\.1:\d+ closed$/);
    expect(c.ready).toBe(false);
    await expect(read(c, ['a'])).rejects.toThrow(/is closed/);
    await c.close(); // twice is fine
    // closing while down (reconnect timer set, or a connect attempt under way)
    const d = await RedisReadConnection.connect({ url: own.url, ...OPTS });
    await own.stop();
    await waitUntil(() => !d.ready, 'the drop');
    await sleep(120);
    await d.close();
    expect(d.ready).toBe(false);
  });

  it('rediss:// connects over TLS', async (ctx) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-tls-'));
    try {
      try {
        await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
      } catch {
        ctx.skip(); // no openssl here: nothing to make a certificate with
      }
      const tlsPort = await freePort();
      const cert = path.join(dir, 'cert.pem');
      const own = await startRedis({ args: ['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', path.join(dir, 'key.pem'), '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'] });
      const url = `rediss://127.0.0.1:${tlsPort}`;
      try {
        // the certificate is self-signed: verified, so refused...
        await expect(RedisReadConnection.connect({ url, ...OPTS })).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${tlsPort} failed: .*self[- ]signed`));
        // ...and once trusted (the only knob without TLS options in the API), a working connection
        const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
        process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
        let c: RedisReadConnection;
        try {
          c = await RedisReadConnection.connect({ url, ...OPTS });
        } finally {
          if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
          else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
        }
        try {
          const plain = new Redis(own.url);
          await plain.set('tls:key', Buffer.alloc(100_000, 7));
          plain.disconnect();
          const [v] = await read(c, ['tls:key']);
          expect(v).toEqual(Buffer.alloc(100_000, 7));
        } finally {
          await c.close();
        }
      } finally {
        await own.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Against a fake server: what a real Redis will not do on demand
// ---------------------------------------------------------------------------------------------

interface Fake {
  url: string;
  /** Server-side sockets, newest last. */
  sockets: net.Socket[];
  /** What to do with each chunk of MGETs (after the handshake's PING). */
  onMget: (socket: net.Socket, data: Buffer) => void;
  close(): Promise<void>;
}

async function fakeRedis(): Promise<Fake> {
  const fake: Fake = { url: '', sockets: [], onMget: () => {}, close: async () => {} };
  const server = net.createServer((s) => {
    fake.sockets.push(s);
    s.on('error', () => {});
    let handshake = true;
    s.on('data', (d) => {
      if (handshake) {
        handshake = false;
        expect(d.toString()).toBe('*1\r\n$4\r\nPING\r\n');
        s.write('+PONG\r\n');
      } else fake.onMget(s, d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fake.url = `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((r) => {
      for (const s of fake.sockets) s.destroy();
      server.close(() => r());
    });
  return fake;
}

/** Answers every MGET in `data` with one `ok` per key. */
function answer(s: net.Socket, data: Buffer): void {
  for (const m of data.toString('latin1').matchAll(/\*(\d+)\r\n\$4\r\nMGET\r\n/g)) {
    const n = Number(m[1]) - 1;
    s.write(`*${n}\r\n${'$2\r\nok\r\n'.repeat(n)}`);
  }
}

describe('RedisReadConnection against a misbehaving server', () => {
  let fake: Fake;
  beforeAll(async () => {
    fake = await fakeRedis();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('a reply that is no MGET reply fails every pending request and brings a new connection', async () => {
    fake.onMget = answer;
    const c = await RedisReadConnection.connect({ url: fake.url, ...OPTS });
    try {
      expect(text(await read(c, ['a', 'b']))).toEqual(['ok', 'ok']);
      fake.onMget = (s) => s.write(':1\r\n');
      const [a, b] = await Promise.allSettled([read(c, ['a']), read(c, ['b'])]);
      expect(a.status === 'rejected' && a.reason.message).toMatch(/protocol error: expected an array of 1, got ":1/);
      expect(b.status).toBe('rejected');
      expect(c.ready).toBe(false);
      await expect(read(c, ['a'])).rejects.toThrow(/not connected \(protocol error/);
      fake.onMget = answer;
      await waitUntil(() => c.ready, 'the reconnect');
      expect(fake.sockets.length).toBe(2);
      expect(fake.sockets[0].destroyed).toBe(true);
      expect(text(await read(c, ['x']))).toEqual(['ok']);
    } finally {
      await c.close();
    }
  });

  it('pending requests reject at once when the connection drops', async () => {
    fake.onMget = () => {}; // never answers
    const c = await RedisReadConnection.connect({ url: fake.url, ...OPTS });
    try {
      const pending = [read(c, ['a']), read(c, ['b'])];
      await sleep(20);
      const t0 = performance.now();
      fake.sockets.at(-1)!.destroy();
      for (const p of pending) await expect(p).rejects.toThrow(/connection closed by the server|ECONNRESET/);
      expect(performance.now() - t0).toBeLessThan(500); // at once: not the 1 s command timeout
      fake.onMget = answer;
      await waitUntil(() => c.ready, 'the reconnect');
      expect(text(await read(c, ['a']))).toEqual(['ok']);
    } finally {
      await c.close();
    }
  });

  it('a reply dribbled a few bytes at a time', async () => {
    const c = await RedisReadConnection.connect({ url: fake.url, ...OPTS });
    try {
      const reply = Buffer.from('*3\r\n$5\r\nhe\r\nl\r\n$-1\r\n$0\r\n\r\n*1\r\n$3\r\nend\r\n', 'latin1');
      fake.onMget = (s, data) => {
        if (!data.includes('end')) return;
        let at = 0;
        const next = () => {
          if (at >= reply.length) return;
          s.write(reply.subarray(at, at + 3));
          at += 3;
          setTimeout(next, 1);
        };
        next();
      };
      const [a, b] = await Promise.all([read(c, ['x', 'y', 'z']), read(c, ['end'])]);
      expect(text(a)).toEqual(['he\r\nl', null, '']);
      expect(text(b)).toEqual(['end']);
    } finally {
      await c.close();
    }
  });
});
