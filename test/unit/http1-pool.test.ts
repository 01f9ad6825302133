// The bench's HTTP/1.1 client (bench/serving/http1-pool.ts): it must read answers right however
// they are split, reuse connections, and count what it cannot read as errors, never as answers.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Pool, framePost, type Outcome } from '../../bench/serving/http1-pool.ts';

const servers: (http.Server | net.Server)[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(server: http.Server | net.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

const ask = (pool: Http1Pool, req: Buffer) => new Promise<[Outcome, number]>((r) => pool.send(req, (o, b) => r([o, b])));

describe('Http1Pool', () => {
  it('sends the framed POST, reads status and body length, and reuses the connection', async () => {
    const seen: { path?: string; body: string; type?: string }[] = [];
    const sockets = new Set<net.Socket>();
    const target = await listen(
      http.createServer((req, res) => {
        sockets.add(req.socket);
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          seen.push({ path: req.url, body, type: req.headers['content-type'] });
          const answer = body.includes('"bad"') ? '{"error":1}' : 'x'.repeat(100_000);
          res.writeHead(body.includes('"bad"') ? 400 : 200, { 'content-length': Buffer.byteLength(answer) });
          res.end(answer);
        });
      }),
    );
    const pool = new Http1Pool(target, 2000);
    await pool.open(1);
    for (let i = 0; i < 5; i++) expect(await ask(pool, framePost(target, '/v1/x', Buffer.from(`{"n":${i}}`)))).toEqual(['ok', 100_000]);
    expect(await ask(pool, framePost(target, '/v1/x', Buffer.from('{"bad":1}')))).toEqual(['http 400', 11]);
    expect(await ask(pool, framePost(target, '/v1/x', Buffer.from('{"n":9}')))).toEqual(['ok', 100_000]);
    expect(seen.map((s) => s.body)).toEqual(['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"bad":1}', '{"n":9}']);
    expect(seen.every((s) => s.path === '/v1/x' && s.type === 'application/json')).toBe(true);
    expect(sockets.size).toBe(1);
    expect(pool.connections).toBe(1);
    pool.close();
  });

  it('opens another connection while one is busy, and reads heads split byte by byte', async () => {
    const answer = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
    const target = await listen(
      net.createServer((s) => {
        s.on('data', async () => {
          for (const ch of answer) {
            s.write(ch);
            await new Promise((r) => setImmediate(r));
          }
        });
      }),
    );
    const pool = new Http1Pool(target, 2000);
    const req = framePost(target, '/', Buffer.from('{}'));
    expect(await Promise.all([ask(pool, req), ask(pool, req), ask(pool, req)])).toEqual([
      ['ok', 5],
      ['ok', 5],
      ['ok', 5],
    ]);
    expect(pool.connections).toBe(3);
    pool.close();
  });

  it('counts chunked answers, answers without a length, timeouts and dropped connections as errors', async () => {
    const replies: Record<string, string | null> = {
      chunked: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      nolength: 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n',
      silent: null,
      drop: 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly part',
    };
    const target = await listen(
      net.createServer((s) => {
        s.on('data', (d) => {
          const which = /"(\w+)"/.exec(d.toString())![1];
          const reply = replies[which];
          if (reply === null) return;
          s.write(reply);
          if (which === 'drop') s.end();
        });
      }),
    );
    const pool = new Http1Pool(target, 300);
    const req = (which: string) => framePost(target, '/', Buffer.from(`{"${which}":1}`));
    expect((await ask(pool, req('chunked')))[0]).toBe('chunked answer');
    expect((await ask(pool, req('nolength')))[0]).toBe('answer without Content-Length');
    expect((await ask(pool, req('silent')))[0]).toBe('timeout');
    expect((await ask(pool, req('drop')))[0]).toBe('closed');
    pool.close();
  });
});
