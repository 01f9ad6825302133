/**
 * pitstop's own HTTP/2 layer (src/serving/h2/session.ts) at the frame level: what real clients
 * do (grpc-js, node:http2: flow control with answers larger than every window, PING, graceful
 * GOAWAY), and what hostile or broken peers do, spoken as raw frames over a socket (rapid reset,
 * a CONTINUATION flood, more streams than allowed, DATA past the window, HTTP/1.1, garbage).
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE, GrpcH2Server, type CallContext } from '../../src/serving/grpc-h2.ts';
import { HpackDecoder, HpackEncoder } from '../../src/serving/h2/hpack.ts';
import { CLIENT_PREFACE, FRAME, H2_ERROR } from '../../src/serving/h2/session.ts';
import { frame } from '../support/h2-frame.ts';

const id = (b: Buffer) => b;
const BIG = 300_000;

interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

/** A raw HTTP/2 client: writes frames, reads frames, and knows when the server closed. */
class RawClient {
  readonly frames: Frame[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private readonly socket: net.Socket;
  readonly hpack = new HpackEncoder();
  /** Whether to acknowledge the server's SETTINGS and PINGs, as every real client does. */
  ackSettings = true;
  ackPings = true;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({ type: this.buf[3], flags: this.buf[4], id: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) });
        if (this.ackSettings && this.buf[3] === FRAME.SETTINGS && (this.buf[4] & 0x1) === 0) this.write(frame(FRAME.SETTINGS, 0x1, 0, Buffer.alloc(0)));
        if (this.ackPings && this.buf[3] === FRAME.PING && (this.buf[4] & 0x1) === 0) this.write(frame(FRAME.PING, 0x1, 0, Buffer.from(this.buf.subarray(9, 17))));
        this.buf = this.buf.subarray(9 + len);
      }
      this.wake();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(...bufs: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(bufs));
  }

  /** The client preface and an empty SETTINGS frame. */
  start(): void {
    this.write(CLIENT_PREFACE, frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)));
  }

  headers(streamId: number, flags: number, headers: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.T/Echo'], [':authority', 'x'], ['content-type', 'application/grpc']]): Buffer {
    return frame(FRAME.HEADERS, flags, streamId, this.hpack.encode(headers));
  }

  /** Waits until `pred` holds over the frames received (or the socket closed), up to 5 s. */
  async until(pred: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!pred() && !this.closed && Date.now() < deadline) await new Promise<void>((r) => (this.waiters.push(r), setTimeout(r, 50)));
  }

  /** Every GOAWAY received, in order. */
  goaways(): { lastStreamId: number; code: number; debug: string }[] {
    return this.frames.filter((x) => x.type === FRAME.GOAWAY).map((f) => ({ lastStreamId: f.payload.readUInt32BE(0), code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString() }));
  }

  /** The final GOAWAY: the first naming a real stream id (a graceful close's first one names 2^31-1). */
  goaway(): { lastStreamId: number; code: number; debug: string } | undefined {
    return this.goaways().find((g) => g.lastStreamId !== 0x7fffffff);
  }

  /** Stops reading: the server's answers pile up in the kernel, then in its socket. */
  pause(): void {
    this.socket.pause();
  }

  close(): void {
    this.socket.destroy();
  }
}


/** A gRPC message: uncompressed flag, 4-byte big-endian length, the bytes. */
function grpcMessage(m: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(m.length, 1);
  return Buffer.concat([prefix, m]);
}

describe('pitstop HTTP/2 sessions', () => {
  let server: GrpcH2Server;
  let port: number;
  let slow: CallContext[] = [];
  let releaseSlow: () => void = () => {};
  let slowGate = new Promise<void>((r) => (releaseSlow = r));

  beforeAll(async () => {
    server = new GrpcH2Server({ transport: 'pitstop', maxConcurrentStreams: 4, maxMessageBytes: 4 << 20, tooLarge: (bytes) => ({ code: CODE.INVALID_ARGUMENT, details: `${bytes} bytes` }), log: () => {} });
    server.addUnary('/t.T/Echo', async (b) => b);
    // An answer larger than every default window (64 KiB per stream and per connection).
    server.addUnary('/t.T/Big', async (b) => Buffer.alloc(BIG, b.length > 0 ? b[0] : 7));
    server.addUnary('/t.T/Slow', async (_b, ctx) => {
      slow.push(ctx);
      await slowGate;
      return Buffer.from('late');
    });
    port = await server.listen('127.0.0.1', 0);
  });

  afterAll(async () => {
    releaseSlow();
    await server.close(1000);
  });

  function unary(client: grpc.Client, path: string, message: Buffer): Promise<{ code: number; value?: Buffer }> {
    return new Promise((resolve) => {
      let value: Buffer | undefined;
      const c = client.makeUnaryRequest(path, id, id, message, new grpc.Metadata(), {}, (_e, v) => (value = v));
      c.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve({ code: s.code, value })));
    });
  }

  it('answers larger than the stream and connection windows arrive whole, many at once (flow control)', async () => {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => unary(client, '/t.T/Big', Buffer.from([n]))));
    client.close();
    results.forEach((r, i) => {
      expect(r.code).toBe(CODE.OK);
      expect(r.value!.length).toBe(BIG);
      expect(r.value!.every((b) => b === i + 1)).toBe(true);
    });
  });

  it('large requests split over many DATA frames and window updates arrive whole', async () => {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const big = Buffer.alloc(3 << 20, 0x5a);
    const r = await unary(client, '/t.T/Echo', big);
    client.close();
    expect(r.code).toBe(CODE.OK);
    expect(r.value!.equals(big)).toBe(true);
  });

  it('answers PING, and serves node:http2 clients', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    await new Promise((r) => session.once('connect', r)); // node cancels a ping sent before it connects
    const rtt = await new Promise<number>((resolve, reject) => session.ping((err, ms) => (err ? reject(err) : resolve(ms))));
    expect(rtt).toBeGreaterThanOrEqual(0);
    const req = session.request({ ':method': 'POST', ':path': '/t.T/Echo', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(grpcMessage(Buffer.from('hi')));
    const chunks: Buffer[] = [];
    let status: string | undefined;
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('trailers', (t) => (status = t['grpc-status'] as string));
    await new Promise((r) => req.on('end', r));
    session.close();
    expect(status).toBe('0');
    expect(Buffer.concat(chunks).subarray(5).toString()).toBe('hi');
  });

  it('an HTTP/1.1 request gets a 505 that says what the port speaks', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/get-online-features' }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(res.status).toBe(505);
    expect(res.body).toContain('gRPC over HTTP/2');
  });

  it('garbage instead of the client preface closes the connection', async () => {
    const c = new RawClient(port);
    c.write(Buffer.from('\x16\x03\x01 not http at all, a TLS hello perhaps.....'));
    await c.until(() => false);
    expect(c.closed).toBe(true);
  });

  it('streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused, and the others still answered', async () => {
    const c = new RawClient(port);
    c.start();
    // Six slow calls at once; the server allows four.
    for (let i = 0; i < 6; i++) c.write(c.headers(1 + 2 * i, 0x4), frame(FRAME.DATA, 0x1, 1 + 2 * i, grpcMessage(Buffer.from('x'))));
    await c.until(() => c.frames.filter((f) => f.type === FRAME.RST_STREAM).length >= 2);
    const refused = c.frames.filter((f) => f.type === FRAME.RST_STREAM).map((f) => [f.id, f.payload.readUInt32BE(0)]);
    expect(refused).toEqual([
      [9, H2_ERROR.REFUSED_STREAM],
      [11, H2_ERROR.REFUSED_STREAM],
    ]);
    releaseSlow();
    // The four admitted calls are answered: HEADERS, DATA, trailers with grpc-status 0.
    await c.until(() => c.frames.filter((f) => f.type === FRAME.HEADERS && f.flags & 0x1).length >= 4);
    const dec = new HpackDecoder();
    const trailerStatus: string[] = [];
    for (const f of c.frames.filter((x) => x.type === FRAME.HEADERS)) dec.decode(f.payload, (n, v) => n === 'grpc-status' && trailerStatus.push(v));
    expect(trailerStatus).toEqual(['0', '0', '0', '0']);
    expect(server.transportStats().refusedStreams).toBe(2);
    c.close();
    slowGate = new Promise<void>((r) => (releaseSlow = r));
  });

  it('rapid reset (HEADERS then RST_STREAM, over and over) gets GOAWAY ENHANCE_YOUR_CALM', async () => {
    const c = new RawClient(port);
    c.start();
    const burst: Buffer[] = [];
    for (let i = 0; i < 150; i++) burst.push(c.headers(1 + 2 * i, 0x4), frame(FRAME.RST_STREAM, 0, 1 + 2 * i, Buffer.from([0, 0, 0, 8])));
    c.write(...burst);
    await c.until(() => c.goaway() !== undefined);
    expect(c.goaway()?.code).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
    expect(server.transportStats().connectionErrors.ENHANCE_YOUR_CALM).toBeGreaterThanOrEqual(1);
    await c.until(() => false);
    expect(c.closed).toBe(true);
  });

  it('a CONTINUATION flood gets GOAWAY before the block passes the header list cap', async () => {
    const c = new RawClient(port);
    c.start();
    const junk = Buffer.alloc(16_000, 0x40);
    c.write(frame(FRAME.HEADERS, 0, 1, c.hpack.encode([[':method', 'POST']])));
    for (let i = 0; i < 8; i++) c.write(frame(FRAME.CONTINUATION, 0, 1, junk));
    await c.until(() => c.goaway() !== undefined);
    expect(c.goaway()).toMatchObject({ code: H2_ERROR.ENHANCE_YOUR_CALM });
    expect(c.goaway()!.debug).toContain('header block');
  });

  it('a client that asks without reading is not read either: requests wait while its answers are buffered', async () => {
    const own = new GrpcH2Server({ transport: 'pitstop', maxConcurrentStreams: 1000, maxMessageBytes: 1024, tooLarge: () => ({ code: CODE.INVALID_ARGUMENT, details: '' }), log: () => {} });
    let calls = 0;
    own.addUnary('/t.T/Big', async () => {
      calls++;
      return Buffer.alloc(BIG, 1);
    });
    const p = await own.listen('127.0.0.1', 0);
    const c = new RawClient(p);
    c.start();
    // Windows of 2^31-1, so flow control never holds the answers back: only the socket does.
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(4, 0);
    settings.writeUInt32BE(2 ** 31 - 1, 2);
    const grow = Buffer.alloc(4);
    grow.writeUInt32BE(2 ** 31 - 1 - 65_535, 0);
    c.pause();
    c.write(frame(FRAME.SETTINGS, 0, 0, settings), frame(FRAME.WINDOW_UPDATE, 0, 0, grow));
    // 400 calls for 300 KB answers (120 MB if all were answered), in writes of 20 calls.
    for (let i = 0; i < 400; i += 20) {
      const burst: Buffer[] = [];
      for (let k = i; k < i + 20; k++) burst.push(c.headers(1 + 2 * k, 0x4, [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.T/Big'], [':authority', 'x'], ['content-type', 'application/grpc']]), frame(FRAME.DATA, 0x1, 1 + 2 * k, grpcMessage(Buffer.from([1]))));
      c.write(...burst);
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    const answered = calls;
    c.close();
    await own.close(100);
    // Once 8 MiB wait in the server's socket it stops reading: far fewer than 400 calls ran
    // (what the kernel's buffers took on both sides, and one read's worth, came first).
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(200);
  });

  it('a broken header block is a COMPRESSION_ERROR; a frame over 16 KiB a FRAME_SIZE_ERROR', async () => {
    const c = new RawClient(port);
    c.start();
    // An indexed field whose index never ends (integer continuation bytes without a last one).
    c.write(frame(FRAME.HEADERS, 0x4, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])));
    await c.until(() => c.goaway() !== undefined);
    expect(c.goaway()?.code).toBe(H2_ERROR.COMPRESSION_ERROR);
    const d = new RawClient(port);
    d.start();
    d.write(d.headers(1, 0x4), frame(FRAME.DATA, 0, 1, Buffer.alloc(16_385)));
    await d.until(() => d.goaway() !== undefined);
    expect(d.goaway()).toMatchObject({ code: H2_ERROR.FRAME_SIZE_ERROR, lastStreamId: 1 });
  });

  it("the client's first frame must be SETTINGS, and the server's SETTINGS must be acknowledged in time", async () => {
    const c = new RawClient(port);
    c.write(CLIENT_PREFACE, frame(FRAME.PING, 0, 0, Buffer.alloc(8)));
    await c.until(() => c.goaway() !== undefined);
    expect(c.goaway()).toMatchObject({ code: H2_ERROR.PROTOCOL_ERROR, debug: expect.stringContaining('not SETTINGS') });
    expect(c.frames.some((f) => f.type === FRAME.PING)).toBe(false);

    const own = new GrpcH2Server({ transport: 'pitstop', settingsTimeoutMs: 200, maxMessageBytes: 1024, tooLarge: () => ({ code: CODE.INVALID_ARGUMENT, details: '' }), log: () => {} });
    own.addUnary('/t.T/Echo', async (b) => b);
    const p = await own.listen('127.0.0.1', 0);
    const silent = new RawClient(p);
    silent.ackSettings = false;
    silent.start();
    const acking = new RawClient(p);
    acking.start();
    await silent.until(() => silent.goaway() !== undefined);
    expect(silent.goaway()?.code).toBe(H2_ERROR.SETTINGS_TIMEOUT);
    // The client that acknowledged is still served, after the timeout has passed.
    await new Promise((r) => setTimeout(r, 300));
    acking.write(acking.headers(1, 0x4), frame(FRAME.DATA, 0x1, 1, grpcMessage(Buffer.from('ok'))));
    await acking.until(() => acking.frames.some((f) => f.type === FRAME.HEADERS && f.id === 1 && (f.flags & 0x1) !== 0));
    expect(acking.goaway()).toBeUndefined();
    expect(acking.frames.some((f) => f.type === FRAME.DATA && f.id === 1 && f.payload.subarray(5).toString() === 'ok')).toBe(true);
    expect(own.transportStats().connectionErrors).toEqual({ SETTINGS_TIMEOUT: 1 });
    acking.close();
    await own.close(100);
  });

  it('a malformed request (RFC 9113 section 8.1.1) gets RST_STREAM PROTOCOL_ERROR, is counted and logged once, and the connection serves on', async () => {
    const logged: string[] = [];
    const own = new GrpcH2Server({ transport: 'pitstop', maxMessageBytes: 1024, tooLarge: () => ({ code: CODE.INVALID_ARGUMENT, details: '' }), log: (l) => logged.push(l) });
    own.addUnary('/t.T/Echo', async (b) => b);
    const p = await own.listen('127.0.0.1', 0);
    const c = new RawClient(p);
    c.start();
    const good: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.T/Echo'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
    const without = (name: string) => good.filter(([n]) => n !== name);
    // A literal field without indexing, by hand (HpackEncoder refuses names HTTP/2 forbids).
    const literal = (name: string, value: string) => Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);
    const bad: [string, [string, string][], Buffer?][] = [
      ['an uppercase field name', good, literal('X-Upper', '1')],
      ['a field name with a space', [...good, ['x y', '1']]],
      ['a colon inside a field name', [...good, ['x:y', '1']]],
      ['connection', [...good, ['connection', 'keep-alive']]],
      ['transfer-encoding', [...good, ['transfer-encoding', 'chunked']]],
      ['upgrade', [...good, ['upgrade', 'h2c']]],
      ['te other than trailers', [...without('te'), ['te', 'gzip']]],
      ['a value with CR LF', [...good, ['x-note', 'a\r\nb']]],
      ['a value with NUL', [...good, ['x-note', 'a\0b']]],
      ['a value with a leading space', [...good, ['x-note', ' a']]],
      ['a pseudo-header after a regular field', [...without(':authority'), [':authority', 'x']]],
      ['an unknown pseudo-header', [...good.slice(0, 4), [':status', '200'], ...good.slice(4)]],
      ['a second :path', [...good.slice(0, 3), [':path', '/t.T/Echo'], ...good.slice(3)]],
      ['no :scheme', without(':scheme')],
      ['no :method', without(':method')],
      ['an empty :path', good.map(([n, v]) => [n, n === ':path' ? '' : v])],
      ['content-length not a number', [...good, ['content-length', 'seven']]],
      ['content-length under the DATA sent (7 bytes)', [...good, ['content-length', '5']]],
      ['content-length over the DATA sent', [...good, ['content-length', '9']]],
    ];
    let id = 1;
    for (const [, headers, tail] of bad) {
      const block = Buffer.concat([c.hpack.encode(headers), tail ?? Buffer.alloc(0)]);
      c.write(frame(FRAME.HEADERS, 0x4, id, block), frame(FRAME.DATA, 0x1, id, grpcMessage(Buffer.from('no'))));
      id += 2;
    }
    // Then a good request on the same connection (with a content-length that adds up), and one whose trailers carry a pseudo-header.
    const okId = id;
    c.write(c.headers(okId, 0x4, [...good, ['content-length', '8']]), frame(FRAME.DATA, 0x1, okId, grpcMessage(Buffer.from('yes'))));
    const trailersId = okId + 2;
    c.write(c.headers(trailersId, 0x4, good), frame(FRAME.DATA, 0, trailersId, grpcMessage(Buffer.from('t'))), c.headers(trailersId, 0x5, [[':path', '/x']]));
    await c.until(() => c.frames.filter((f) => f.type === FRAME.RST_STREAM).length >= bad.length + 1 && c.frames.some((f) => f.type === FRAME.HEADERS && f.id === okId && (f.flags & 0x1) !== 0));
    for (let k = 0; k < bad.length; k++) {
      const rst = c.frames.find((f) => f.type === FRAME.RST_STREAM && f.id === 1 + 2 * k);
      expect(rst?.payload.readUInt32BE(0), bad[k][0]).toBe(H2_ERROR.PROTOCOL_ERROR);
    }
    expect(c.frames.find((f) => f.type === FRAME.RST_STREAM && f.id === trailersId)?.payload.readUInt32BE(0)).toBe(H2_ERROR.PROTOCOL_ERROR);
    expect(c.frames.some((f) => f.type === FRAME.DATA && f.id === okId && f.payload.subarray(5).toString() === 'yes')).toBe(true);
    expect(c.goaway()).toBeUndefined();
    expect(own.transportStats().malformedStreams).toBe(bad.length + 1);
    // One line for the first (naming the field at fault); the rest counted, not logged, within the minute.
    expect(logged).toEqual([expect.stringContaining('field name "X-Upper"')]);
    c.close();
    await own.close(100);
  });

  it('a handler that throws while a frame is handled closes that connection (INTERNAL_ERROR, logged), not the process', async () => {
    const logged: string[] = [];
    const own = new GrpcH2Server({ transport: 'pitstop', maxMessageBytes: 1024, tooLarge: () => ({ code: CODE.INVALID_ARGUMENT, details: '' }), log: (l) => logged.push(l) });
    const method = { path: '/t.T/Boom', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id };
    own.addService({ Boom: method } as unknown as grpc.ServiceDefinition, {
      Boom: () => {
        throw new Error('a hosted handler bug');
      },
    });
    own.addUnary('/t.T/Echo', async (b) => b);
    const p = await own.listen('127.0.0.1', 0);
    const c = new RawClient(p);
    c.start();
    c.write(c.headers(1, 0x4, [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.T/Boom'], [':authority', 'x'], ['content-type', 'application/grpc']]), frame(FRAME.DATA, 0x1, 1, grpcMessage(Buffer.from('x'))));
    await c.until(() => c.goaway() !== undefined);
    expect(c.goaway()?.code).toBe(H2_ERROR.INTERNAL_ERROR);
    expect(logged.some((l) => l.includes('a hosted handler bug'))).toBe(true);
    // The server still answers on a new connection.
    const client = new grpc.Client(`127.0.0.1:${p}`, grpc.credentials.createInsecure());
    const r = await unary(client, '/t.T/Echo', Buffer.from('still here'));
    client.close();
    await own.close(100);
    expect(r.value?.toString()).toBe('still here');
  });

  it('close(): GOAWAY, in-flight calls finish, new connections are refused', async () => {
    const own = new GrpcH2Server({ transport: 'pitstop', maxMessageBytes: 1024, tooLarge: () => ({ code: CODE.INVALID_ARGUMENT, details: '' }), log: () => {} });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    own.addUnary('/t.T/Slow', async () => {
      started++;
      await gate;
      return Buffer.from('done');
    });
    const p = await own.listen('127.0.0.1', 0);
    const client = new grpc.Client(`127.0.0.1:${p}`, grpc.credentials.createInsecure());
    const inFlight = unary(client, '/t.T/Slow', Buffer.from('x'));
    while (started === 0) await new Promise((r) => setTimeout(r, 10));
    const closing = own.close(5000);
    await new Promise((r) => setTimeout(r, 50));
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(p, '127.0.0.1');
      s.on('error', () => resolve(true));
      s.on('connect', () => resolve(false));
    });
    release();
    const r = await inFlight;
    await closing;
    client.close();
    expect(r).toMatchObject({ code: CODE.OK });
    expect(r.value!.toString()).toBe('done');
    expect(refused).toBe(true);
  });

  it('close() is two-step (RFC 9113 section 6.8): a call sent across the first GOAWAY is served; the final one names it, and later ones are refused', async () => {
    const own = new GrpcH2Server({ transport: 'pitstop', maxMessageBytes: 1024, tooLarge: () => ({ code: CODE.INVALID_ARGUMENT, details: '' }), log: () => {} });
    own.addUnary('/t.T/Echo', async (b) => b);
    const p = await own.listen('127.0.0.1', 0);
    const c = new RawClient(p);
    c.ackPings = false; // hold the first step open
    c.start();
    const call = (id: number, text: string) => c.write(c.headers(id, 0x4), frame(FRAME.DATA, 0x1, id, grpcMessage(Buffer.from(text))));
    const answeredWith = (id: number) => c.frames.find((f) => f.type === FRAME.DATA && f.id === id)?.payload.subarray(5).toString();
    call(1, 'one');
    await c.until(() => answeredWith(1) !== undefined);
    const closing = own.close(5000);
    const shutdownPing = () => c.frames.find((f) => f.type === FRAME.PING && (f.flags & 0x1) === 0);
    await c.until(() => shutdownPing() !== undefined);
    expect(c.goaways()).toEqual([{ lastStreamId: 0x7fffffff, code: H2_ERROR.NO_ERROR, debug: '' }]);
    // A call the client sent before it saw the first GOAWAY is taken and answered.
    call(3, 'crossed');
    await c.until(() => answeredWith(3) !== undefined);
    expect(answeredWith(3)).toBe('crossed');
    expect(c.goaway()).toBeUndefined();
    // The ack ends the first step: the final GOAWAY names stream 3, and the connection ends.
    c.write(frame(FRAME.PING, 0x1, 0, Buffer.from(shutdownPing()!.payload)));
    await c.until(() => c.goaway() !== undefined);
    expect(c.goaway()).toEqual({ lastStreamId: 3, code: H2_ERROR.NO_ERROR, debug: '' });
    call(5, 'late');
    await c.until(() => c.closed);
    expect(answeredWith(5)).toBeUndefined();
    await closing;
    expect(c.closed).toBe(true);
  });

  it('close() without the ack: the final GOAWAY follows anyway, and streams after it are refused', async () => {
    const own = new GrpcH2Server({ transport: 'pitstop', maxMessageBytes: 1024, tooLarge: () => ({ code: CODE.INVALID_ARGUMENT, details: '' }), log: () => {} });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    own.addUnary('/t.T/Slow', async () => {
      await gate;
      return Buffer.from('late');
    });
    const p = await own.listen('127.0.0.1', 0);
    const c = new RawClient(p);
    c.ackPings = false;
    c.start();
    c.write(c.headers(1, 0x4, [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.T/Slow'], [':authority', 'x'], ['content-type', 'application/grpc']]), frame(FRAME.DATA, 0x1, 1, grpcMessage(Buffer.from('s'))));
    await new Promise((r) => setTimeout(r, 50));
    const closing = own.close(10_000);
    await c.until(() => c.goaway() !== undefined); // up to 5 s; the server waits 2 s for an ack
    expect(c.goaway()).toEqual({ lastStreamId: 1, code: H2_ERROR.NO_ERROR, debug: '' });
    c.write(c.headers(3, 0x5));
    await c.until(() => c.frames.some((f) => f.type === FRAME.RST_STREAM && f.id === 3));
    expect(c.frames.find((f) => f.type === FRAME.RST_STREAM && f.id === 3)?.payload.readUInt32BE(0)).toBe(H2_ERROR.REFUSED_STREAM);
    expect(c.closed).toBe(false); // stream 1 is still open
    release();
    await closing;
    await c.until(() => c.closed);
    expect(c.frames.some((f) => f.type === FRAME.DATA && f.id === 1 && f.payload.subarray(5).toString() === 'late')).toBe(true);
  });

  // The same limits on node:http2 (h2/node-session-life.ts): switching the layer must not drop them.
  describe.each(['pitstop', 'node'] as const)('connection life on %s (max age, max idle, keepalive)', (transport) => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const life = { maxAgeMs: 0, maxAgeGraceMs: 0, maxIdleMs: 0, keepaliveTimeMs: 0, keepaliveTimeoutMs: 20_000 };
    /** A server with these connection limits, checked every 20 ms; `/t.T/Slow` waits for `release()`. */
    async function lifeServer(connections: typeof life) {
      const own = new GrpcH2Server({ transport, connections, connectionSweepMs: 20, maxMessageBytes: 1024, tooLarge: () => ({ code: CODE.INVALID_ARGUMENT, details: '' }), log: () => {} });
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      own.addUnary('/t.T/Echo', async (b) => b);
      own.addUnary('/t.T/Slow', async () => {
        await gate;
        return Buffer.from('late');
      });
      const p = await own.listen('127.0.0.1', 0);
      return { own, p, release };
    }
    const slowCall = (c: RawClient, id: number) => c.write(c.headers(id, 0x4, [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.T/Slow'], [':authority', 'x'], ['content-type', 'application/grpc']]), frame(FRAME.DATA, 0x1, id, grpcMessage(Buffer.from('s'))));
    const answered = (c: RawClient, id: number) => c.frames.some((f) => f.type === FRAME.HEADERS && f.id === id && (f.flags & 0x1) !== 0);

    it('max age: a graceful GOAWAY (±10%), the open call still answered within the grace, and cut off after it', async () => {
      const { own, p, release } = await lifeServer({ ...life, maxAgeMs: 400, maxAgeGraceMs: 500 });
      const a = new RawClient(p);
      a.start();
      const b = new RawClient(p);
      b.start();
      slowCall(a, 1);
      slowCall(b, 1);
      const t0 = Date.now();
      await sleep(250);
      expect(a.goaway()).toBeUndefined(); // not before 360 ms
      await a.until(() => a.goaway() !== undefined);
      await b.until(() => b.goaway() !== undefined);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(a.goaway()).toMatchObject({ code: H2_ERROR.NO_ERROR, lastStreamId: 1 });
      expect(b.goaway()).toMatchObject({ code: H2_ERROR.NO_ERROR, lastStreamId: 1 });
      expect(a.closed || b.closed).toBe(false); // a call is open on each: both wait
      // b's client goes quiet; a's call is answered within the grace, and a's connection then ends.
      release();
      await a.until(() => a.closed);
      expect(answered(a, 1)).toBe(true);
      expect(a.frames.some((f) => f.type === FRAME.DATA && f.id === 1 && f.payload.subarray(5).toString() === 'late')).toBe(true);
      expect(own.transportStats().retiredConnections.max_age).toBe(2);
      await own.close(100);
    });

    it('max age: a call still open when the grace runs out is cut off with its connection', async () => {
      const { own, p, release } = await lifeServer({ ...life, maxAgeMs: 200, maxAgeGraceMs: 300 });
      const c = new RawClient(p);
      c.start();
      slowCall(c, 1);
      await c.until(() => c.goaway() !== undefined);
      const goawayAt = Date.now();
      await c.until(() => c.closed);
      expect(c.closed).toBe(true);
      expect(Date.now() - goawayAt).toBeGreaterThanOrEqual(250);
      expect(answered(c, 1)).toBe(false);
      release();
      await own.close(100);
    });

    it('max idle: a connection with no call gets a graceful GOAWAY; one with a call open does not', async () => {
      const { own, p, release } = await lifeServer({ ...life, maxIdleMs: 200 });
      const idle = new RawClient(p);
      idle.start();
      idle.write(idle.headers(1, 0x4), frame(FRAME.DATA, 0x1, 1, grpcMessage(Buffer.from('e'))));
      const busy = new RawClient(p);
      busy.start();
      slowCall(busy, 1);
      await idle.until(() => idle.closed);
      expect(answered(idle, 1)).toBe(true);
      expect(idle.goaway()).toMatchObject({ code: H2_ERROR.NO_ERROR, lastStreamId: 1 });
      await sleep(300);
      expect(busy.goaway()).toBeUndefined();
      release();
      await busy.until(() => answered(busy, 1));
      // Once its call is done it is idle too.
      await busy.until(() => busy.goaway() !== undefined);
      expect(busy.goaway()?.code).toBe(H2_ERROR.NO_ERROR);
      expect(own.transportStats().retiredConnections.max_idle).toBe(2);
      await own.close(100);
    });

    it('keepalive: a quiet connection is pinged; one that answers stays and is served, one that does not is closed', async () => {
      const { own, p } = await lifeServer({ ...life, keepaliveTimeMs: 150, keepaliveTimeoutMs: 150 });
      const alive = new RawClient(p);
      alive.start();
      const dead = new RawClient(p);
      dead.ackPings = false;
      dead.start();
      const client = new grpc.Client(`127.0.0.1:${p}`, grpc.credentials.createInsecure());
      expect((await unary(client, '/t.T/Echo', Buffer.from('before'))).value?.toString()).toBe('before');
      await dead.until(() => dead.closed);
      expect(dead.frames.some((f) => f.type === FRAME.PING && (f.flags & 0x1) === 0)).toBe(true);
      expect(dead.goaway()).toMatchObject({ code: H2_ERROR.NO_ERROR, debug: transport === 'pitstop' ? 'keepalive ping not acknowledged' : '' });
      await sleep(400);
      expect(alive.closed).toBe(false);
      expect(alive.frames.filter((f) => f.type === FRAME.PING && (f.flags & 0x1) === 0).length).toBeGreaterThanOrEqual(2);
      alive.write(alive.headers(1, 0x4), frame(FRAME.DATA, 0x1, 1, grpcMessage(Buffer.from('ok'))));
      await alive.until(() => answered(alive, 1));
      expect(answered(alive, 1)).toBe(true);
      // grpc-js answers the pings itself: its connection was kept, and it is still served.
      expect((await unary(client, '/t.T/Echo', Buffer.from('after'))).value?.toString()).toBe('after');
      expect(own.transportStats().retiredConnections).toEqual({ max_age: 0, max_idle: 0, keepalive_timeout: 1 });
      client.close();
      alive.close();
      await own.close(100);
    });
  });
});
