/**
 * A minimal HTTP/1.1 client for the open-loop load generator (loadgen.ts, `transport: 'http'`):
 * keep-alive connections over node:net, one request at a time per connection, a new connection
 * opened when every open one is busy. Requests are pre-framed bytes (request line, headers and
 * body, built once per request body); a response is taken apart only as far as its status code
 * and Content-Length. node:http's client (an agent, an IncomingMessage, header objects and
 * several listeners per request) would spend more of the shared 2-core box on the generator.
 *
 * Answers must carry Content-Length (pitstop's HTTP server and the bench's HTTP echo always
 * send it); a chunked answer is counted as an error, never misread.
 */
import net from 'node:net';

/** What became of one request: 'ok' for a 2xx answer, else a short reason ('http 503', 'timeout', ...). */
export type Outcome = 'ok' | string;

/** Frame a POST once, so a send is a single socket write of ready bytes. */
export function framePost(host: string, path: string, body: Buffer): Buffer {
  const head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CHUNKED = /\r\ntransfer-encoding:[^\r]*chunked/i;

class Connection {
  readonly socket: net.Socket;
  private buf: Buffer | null = null;
  /** Body bytes still to come (-1: still reading the head). */
  private remaining = -1;
  private status = 0;
  private bodyBytes = 0;
  private done: ((outcome: Outcome, bytes: number) => void) | null = null;

  constructor(port: number, host: string, timeoutMs: number, onIdle: (c: Connection) => void, onGone: (c: Connection) => void) {
    this.socket = net.connect({ port, host, noDelay: true });
    this.socket.setTimeout(timeoutMs);
    this.socket.on('data', (chunk: Buffer) => {
      if (!this.done) {
        // Bytes nobody asked for: the stream is out of step, so drop the connection.
        this.socket.destroy();
        return;
      }
      this.take(chunk);
      if (this.done && this.remaining === 0) {
        const finish = this.done;
        const ok = this.status >= 200 && this.status < 300;
        this.done = null;
        this.buf = null;
        this.remaining = -1;
        onIdle(this);
        finish(ok ? 'ok' : `http ${this.status}`, this.bodyBytes);
      }
    });
    this.socket.on('timeout', () => {
      if (this.done) this.fail('timeout');
      this.socket.destroy();
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.fail(e.code ?? 'socket error'));
    this.socket.on('close', () => {
      this.fail('closed');
      onGone(this);
    });
  }

  get busy(): boolean {
    return this.done !== null;
  }

  send(request: Buffer, done: (outcome: Outcome, bytes: number) => void): void {
    this.done = done;
    this.remaining = -1;
    this.status = 0;
    this.bodyBytes = 0;
    this.socket.write(request);
  }

  private fail(reason: string): void {
    const finish = this.done;
    if (!finish) return;
    this.done = null;
    this.socket.destroy();
    finish(reason, 0);
  }

  private take(chunk: Buffer): void {
    if (this.remaining > 0) {
      this.remaining -= chunk.length;
      if (this.remaining < 0) this.fail('answer longer than its Content-Length');
      return;
    }
    const data = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    const end = data.indexOf(CRLFCRLF);
    if (end < 0) {
      this.buf = data;
      return;
    }
    const head = data.toString('latin1', 0, end);
    this.status = Number(head.slice(9, 12));
    if (CHUNKED.test(head)) return this.fail('chunked answer');
    const length = CONTENT_LENGTH.exec(head);
    if (!length) return this.fail('answer without Content-Length');
    this.bodyBytes = Number(length[1]);
    this.remaining = this.bodyBytes - (data.length - end - 4);
    this.buf = null;
    if (this.remaining < 0) this.fail('answer longer than its Content-Length');
  }
}

/** Keep-alive connections to one server; `send` uses an idle one or opens another. */
export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly port: number;
  private readonly host: string;

  constructor(
    target: string,
    private readonly timeoutMs: number,
  ) {
    const at = target.lastIndexOf(':');
    this.host = target.slice(0, at);
    this.port = Number(target.slice(at + 1));
  }

  /** Open `n` connections ahead of time and wait until they are connected. */
  async open(n: number): Promise<void> {
    const opened = Array.from({ length: n }, () => this.connect());
    await Promise.all(
      opened.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            c.socket.once('connect', () => resolve());
            c.socket.once('error', reject);
          }),
      ),
    );
    this.idle.push(...opened);
  }

  send(request: Buffer, done: (outcome: Outcome, bytes: number) => void): void {
    let c = this.idle.pop();
    while (c && (c.socket.destroyed || c.busy)) c = this.idle.pop();
    (c ?? this.connect()).send(request, done);
  }

  get connections(): number {
    return this.all.size;
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
  }

  private connect(): Connection {
    const c = new Connection(
      this.port,
      this.host,
      this.timeoutMs,
      (x) => this.idle.push(x),
      (x) => this.all.delete(x),
    );
    this.all.add(c);
    return c;
  }
}
