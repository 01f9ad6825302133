/**
 * pitstop's gRPC-over-HTTP/2 server (src/serving/grpc-h2.ts) against real clients: grpc-js (as
 * serving services use it) and a raw node:http2 session (for what grpc-js never sends: split
 * messages, two messages in a unary call, wrong content types and methods).
 */
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE, GRPC_TRANSPORTS, GrpcH2Server, GrpcStatusError, encodeGrpcMessage, parseGrpcTimeout, type CallContext } from '../../src/serving/grpc-h2.ts';

const MAX = 64 * 1024;
const id = (b: Buffer) => b;

interface Outcome {
  code: number;
  details: string;
  value?: Buffer;
  trailers: grpc.Metadata;
}

// Both HTTP/2 layers (pitstop's own, the default, and node:http2) must behave the same.
describe.each(GRPC_TRANSPORTS)('gRPC over HTTP/2 (%s transport)', (transport) => {
  let server: GrpcH2Server;
  let port: number;
  let client: grpc.Client;
  const logged: string[] = [];
  const echoed: Buffer[] = [];
  let slowCtx: CallContext | undefined;

  beforeAll(async () => {
    server = new GrpcH2Server({ transport, maxMessageBytes: MAX, tooLarge: (bytes, path) => ({ code: CODE.INVALID_ARGUMENT, details: `${path}: ${bytes} bytes`, trailers: { 'pitstop-reason': 'LIMIT_EXCEEDED' } }), log: (l) => logged.push(l) });
    server.addUnary('/t.T/Echo', async (b) => {
      echoed.push(Buffer.from(b));
      return Buffer.concat([Buffer.from('echo:'), b]);
    });
    server.addUnary('/t.T/Slow', async (_b, ctx) => {
      slowCtx = ctx;
      await ctx.cancel.promise;
      return Buffer.from('never');
    });
    server.addUnary('/t.T/Refuse', async () => {
      throw new GrpcStatusError(CODE.NOT_FOUND, 'no 100% match for “café”', { 'pitstop-reason': 'UNKNOWN_FEATURE' });
    });
    server.addUnary('/t.T/Crash', async () => {
      throw new Error('a bug');
    });
    port = await server.listen('127.0.0.1', 0);
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await server.close(1000);
  });

  function call(path: string, message: Buffer, options: grpc.CallOptions = {}, c: grpc.Client = client): Promise<Outcome> {
    return new Promise((resolve) => {
      let value: Buffer | undefined;
      const x = c.makeUnaryRequest(path, id, id, message, new grpc.Metadata(), options, (_e, v) => (value = v));
      x.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve({ code: s.code, details: s.details, value, trailers: s.metadata })));
    });
  }

  /** One raw HTTP/2 request: headers, then each body part in its own write (own DATA frame). */
  function raw(headers: http2.OutgoingHttpHeaders, parts: Buffer[]): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ':path': '/t.T/Echo', 'content-type': 'application/grpc', te: 'trailers', ...headers });
      let resHeaders: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on('response', (h) => (resHeaders = h));
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        session.close();
        resolve({ headers: resHeaders, body: Buffer.concat(chunks), trailers });
      });
      req.on('error', reject);
      let i = 0;
      const next = () => {
        if (i === parts.length) return void req.end();
        req.write(parts[i++]);
        setTimeout(next, 5);
      };
      next();
    });
  }

  const frame = (b: Buffer, flag = 0) => {
    const p = Buffer.alloc(5);
    p[0] = flag;
    p.writeUInt32BE(b.length, 1);
    return Buffer.concat([p, b]);
  };

  it('grpc-timeout: every unit, and malformed values', () => {
    expect([parseGrpcTimeout('250m'), parseGrpcTimeout('2S'), parseGrpcTimeout('1M'), parseGrpcTimeout('1H'), parseGrpcTimeout('5000u'), parseGrpcTimeout('3000000n')]).toEqual([250, 2000, 60_000, 3_600_000, 5, 3]);
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
    for (const bad of ['123456789m', '10', 'm', '1.5S', '10x', ['1m', '2m']]) expect(parseGrpcTimeout(bad as string)).toBeNaN();
  });

  it('grpc-message: printable ASCII as is, % and everything else percent-encoded as UTF-8', () => {
    expect(encodeGrpcMessage('unknown feature driver:x')).toBe('unknown feature driver:x');
    expect(encodeGrpcMessage('100% “café”\n')).toBe('100%25 %E2%80%9Ccaf%C3%A9%E2%80%9D%0A');
  });

  it('answers a unary call from grpc-js, empty messages included', async () => {
    expect(await call('/t.T/Echo', Buffer.from('hi'))).toMatchObject({ code: CODE.OK, value: Buffer.from('echo:hi') });
    expect(await call('/t.T/Echo', Buffer.alloc(0))).toMatchObject({ code: CODE.OK, value: Buffer.from('echo:') });
  });

  it('a message split over many DATA frames arrives whole', async () => {
    const msg = Buffer.alloc(40_000, 7);
    msg.write('start');
    const framed = frame(msg);
    // The prefix itself split, then the body in uneven parts.
    const r = await raw({}, [framed.subarray(0, 2), framed.subarray(2, 9), framed.subarray(9, 20_000), framed.subarray(20_000)]);
    expect(r.headers[':status']).toBe(200);
    expect(r.trailers['grpc-status']).toBe('0');
    expect(r.body.readUInt32BE(1)).toBe(msg.length + 5);
    expect(r.body.subarray(5).equals(Buffer.concat([Buffer.from('echo:'), msg]))).toBe(true);
  });

  it('gzip and deflate requests from grpc-js are inflated', async () => {
    for (const algorithm of [1, 2]) {
      const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': algorithm });
      try {
        const msg = Buffer.alloc(5000, 'compressible ');
        const r = await call('/t.T/Echo', msg, {}, c);
        expect(r.code).toBe(CODE.OK);
        expect(r.value!.equals(Buffer.concat([Buffer.from('echo:'), msg]))).toBe(true);
      } finally {
        c.close();
      }
    }
  });

  it('a compressed message is refused when it inflates past the limit, and without an encoding', async () => {
    const bomb = gzipSync(Buffer.alloc(MAX * 4));
    const big = await raw({ 'grpc-encoding': 'gzip' }, [frame(bomb, 1)]);
    expect([big.headers['grpc-status'], big.headers['pitstop-reason']]).toEqual([String(CODE.INVALID_ARGUMENT), 'LIMIT_EXCEEDED']);
    const unknown = await raw({}, [frame(gzipSync(Buffer.from('x')), 1)]);
    expect(unknown.headers['grpc-status']).toBe(String(CODE.UNIMPLEMENTED));
    expect(decodeURIComponent(String(unknown.headers['grpc-message']))).toMatch(/grpc-encoding "identity"/);
  });

  it('a message over the limit is refused from its prefix, before its bytes are read, and the connection goes on', async () => {
    const before = echoed.length;
    const r = await call('/t.T/Echo', Buffer.alloc(MAX + 1));
    expect([r.code, r.details, r.trailers.get('pitstop-reason')]).toEqual([CODE.INVALID_ARGUMENT, `/t.T/Echo: ${MAX + 1} bytes`, ['LIMIT_EXCEEDED']]);
    expect(echoed.length).toBe(before); // the handler never ran
    expect((await call('/t.T/Echo', Buffer.from('again'))).value).toEqual(Buffer.from('echo:again'));
    // A prefix that claims 4 GB is answered at once too, with none of it sent.
    const huge = Buffer.from([0, 0xff, 0xff, 0xff, 0xff]);
    const h = await raw({}, [huge]);
    expect(h.headers['grpc-status']).toBe(String(CODE.INVALID_ARGUMENT));
  });

  it('a unary call with two messages, or a truncated one, is refused', async () => {
    const two = await raw({}, [frame(Buffer.from('a')), frame(Buffer.from('b'))]);
    expect(two.headers['grpc-status']).toBe(String(CODE.INTERNAL));
    expect(decodeURIComponent(String(two.headers['grpc-message']))).toMatch(/exactly one request message; got 2/);
    const cut = await raw({}, [frame(Buffer.from('abc')).subarray(0, 6)]);
    expect(decodeURIComponent(String(cut.headers['grpc-message']))).toMatch(/got 0 and a truncated one/);
  });

  it('unknown methods are UNIMPLEMENTED; other HTTP methods 405; other content types 415', async () => {
    expect((await call('/t.T/Nope', Buffer.from('x'))).code).toBe(CODE.UNIMPLEMENTED);
    expect((await raw({ ':method': 'GET' }, [])).headers[':status']).toBe(405);
    expect((await raw({ 'content-type': 'application/json' }, [Buffer.from('{}')])).headers[':status']).toBe(415);
    expect((await raw({ 'grpc-timeout': 'soon' }, [frame(Buffer.from('x'))])).headers['grpc-status']).toBe(String(CODE.INTERNAL));
  });

  it('the client deadline: DEADLINE_EXCEEDED on time, and the handler sees its cancellation', async () => {
    const started = Date.now();
    const r = await call('/t.T/Slow', Buffer.from('x'), { deadline: Date.now() + 100 });
    expect(r.code).toBe(CODE.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2000);
    // The client's own deadline timer may answer it first; the server's timer (or the client's
    // RST_STREAM) sets the handler's cancellation a moment later.
    for (let i = 0; i < 100 && !slowCtx!.cancel.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    expect(slowCtx!.cancel.aborted).toBe(true);
    expect(Number.isFinite(slowCtx!.deadlineMs)).toBe(true);
  });

  it('a client cancel sets the handler cancellation', async () => {
    slowCtx = undefined;
    const x = client.makeUnaryRequest('/t.T/Slow', id, id, Buffer.from('x'), () => {});
    const ctx = await new Promise<CallContext>((resolve) => {
      const poll = () => (slowCtx ? resolve(slowCtx) : setTimeout(poll, 5));
      poll();
    });
    expect(ctx.cancel.aborted).toBe(false);
    expect(ctx.deadlineMs).toBe(Infinity);
    x.cancel();
    for (let i = 0; i < 100 && !ctx.cancel.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    expect(ctx.cancel.aborted).toBe(true);
  });

  it('a GrpcStatusError keeps its code, message (percent-encoded on the wire) and trailers; any other error is INTERNAL and logged', async () => {
    const r = await call('/t.T/Refuse', Buffer.from('x'));
    expect([r.code, r.details, r.trailers.get('pitstop-reason')]).toEqual([CODE.NOT_FOUND, 'no 100% match for “café”', ['UNKNOWN_FEATURE']]);
    const c = await call('/t.T/Crash', Buffer.from('x'));
    expect([c.code, c.details]).toEqual([CODE.INTERNAL, 'internal error']);
    expect(logged.some((l) => l.includes('a bug'))).toBe(true);
  });
});
