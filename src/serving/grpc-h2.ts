/**
 * gRPC over HTTP/2, without grpc-js in the server's request path. The HTTP/2 underneath is
 * pitstop's own (h2/session.ts, the default: see there for why) or node:http2
 * (`transport: 'node'`); each call reaches its stream through a small StreamPort, so the gRPC
 * behaviour is the same on both.
 *
 * Why: a unary call through grpc-js's server builds a call stack per request (interceptor
 * layers, a Metadata object, a message decoder, a deadline timer, several closures and event
 * listeners) and copies the answer into a framed buffer of its own. In the bench's held runs the
 * bare grpc-js echo server used 180 µs of CPU per 1 x 50 request and 438 µs per 100 x 50 request
 * (33 KB answers), a raw node:http2 echo with the same canned answers 133 and 263 µs
 * (docs/benchmarks.md). This module speaks the protocol itself
 * (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * - a request is a POST with `content-type: application/grpc[+proto]`; its body is
 *   length-prefixed messages (1 byte compressed flag, 4 bytes big-endian length, the bytes);
 * - the answer is HEADERS (:status 200), the length-prefixed answer, then trailers with
 *   `grpc-status` and a percent-encoded `grpc-message`; a failure before any answer is one
 *   HEADERS frame carrying the status ("trailers-only");
 * - `grpc-timeout` sets the call's deadline: when it passes, the call is answered
 *   DEADLINE_EXCEEDED and its Cancellation is set; a client's RST_STREAM sets it too;
 * - gzip and deflate request messages are inflated (bounded by the message limit); answers are
 *   never compressed.
 *
 * Two kinds of method: `addUnary(path, handler)` runs a handler over bytes (pitstop's own
 * methods: no call object), and `addService(definition, implementation)` hosts grpc-js style
 * services (unary, server-streaming, bidi) through a small call object, so the standard health
 * service (grpc-health-check) and server reflection (@grpc/reflection) register here unchanged.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { PitstopError } from '../core/errors.ts';
import { Cancellation } from './cancellation.ts';
import { HpackEncoder } from './h2/hpack.ts';
import { NodeSessionLife } from './h2/node-session-life.ts';
import { H2_ERROR, H2Session, type H2Stream, type RequestHead, type SessionHost } from './h2/session.ts';
import { hasLimits, type ConnectionLimits, type RetireReason } from './h2/connection-life.ts';

/** gRPC status codes used here (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const CODE = { OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14 } as const;

/** A call's outcome: its gRPC status code, message, and extra trailers (e.g. `pitstop-reason`). */
export interface GrpcFailure {
  code: number;
  details: string;
  trailers?: Record<string, string>;
}

/** What a bytes handler throws to answer with a given status; anything else is INTERNAL. */
export class GrpcStatusError extends Error implements GrpcFailure {
  constructor(
    readonly code: number,
    readonly details: string,
    readonly trailers?: Record<string, string>,
  ) {
    super(details);
  }
}

export interface CallContext {
  /** Set when the client cancels or its deadline passes. */
  cancel: Cancellation;
  /** Client deadline in epoch ms, or Infinity when the client set none. */
  deadlineMs: number;
}

/**
 * A unary method over bytes: the request message → the answer message. The answer may be
 * returned with `PREFIX_BYTES` of headroom already in front of it (`{ framed }`), which the
 * server fills in, so the bytes are never copied.
 */
export type UnaryBytesHandler = (request: Buffer, ctx: CallContext) => Promise<Buffer | { framed: Buffer }>;

/** The length prefix of each message on the wire. */
export const PREFIX_BYTES = 5;

export interface GrpcH2Options {
  /** Request messages above this many bytes are refused (`tooLarge`), before they are buffered. */
  maxMessageBytes: number;
  /** The failure a request message of `bytes` bytes to method `path` gets. */
  tooLarge: (bytes: number, path: string) => GrpcFailure;
  /** Where a handler's unexpected error (not a GrpcStatusError) is logged; the client gets INTERNAL. */
  log: (line: string) => void;
  /**
   * The HTTP/2 layer: 'pitstop' (default), pitstop's own (h2/session.ts), or 'node', node:http2.
   * Same protocol and behaviour; see h2/session.ts for why pitstop has its own.
   */
  transport?: GrpcTransport;
  /** Streams open at once per connection (pitstop transport); more are refused, and the client retries. */
  maxConcurrentStreams?: number;
  /** How long a client has to acknowledge the server's SETTINGS (pitstop transport; default 10 s). */
  settingsTimeoutMs?: number;
  /** Connection life (0 or absent: never): see GrpcConnectionLimits. */
  connections?: GrpcConnectionLimits;
  /** How often connection life is checked, in ms (default 1000; tests make it shorter). */
  connectionSweepMs?: number;
}

/**
 * How long connections live (config `serving.grpc_max_connection_age_ms` and the rest;
 * h2/connection-life.ts has the rules): a maximum age (behind a load balancer that balances
 * connections, not calls, it is what makes long-lived clients spread onto new replicas), a
 * maximum idle time, and keepalive PINGs that find a peer gone without a word.
 */
export type GrpcConnectionLimits = ConnectionLimits;

export type GrpcTransport = 'pitstop' | 'node';

/** What the HTTP/2 layer has seen, for /metrics (node:http2 reports connections and retired connections only). */
export interface TransportStats {
  /** Connections open now. */
  connections: number;
  /** Connections closed with an HTTP/2 error, by its name (PROTOCOL_ERROR, ENHANCE_YOUR_CALM, ...). */
  connectionErrors: Record<string, number>;
  /** New streams refused with REFUSED_STREAM. */
  refusedStreams: number;
  /** Streams reset PROTOCOL_ERROR because their request or trailers were malformed (RFC 9113 section 8.1.1). */
  malformedStreams: number;
  /** Connections the server closed for their age, idleness or an unanswered keepalive PING. */
  retiredConnections: Record<RetireReason, number>;
}

/** At most one log line per this many ms about malformed requests (a broken client sends thousands). */
const MALFORMED_LOG_EVERY_MS = 60_000;

const H2_ERROR_NAMES = new Map(Object.entries(H2_ERROR).map(([name, code]) => [code as number, name]));
export const GRPC_TRANSPORTS: readonly GrpcTransport[] = ['pitstop', 'node'];

const RESPONSE_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity,deflate,gzip' });
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
const noop = () => {};

/** The 'wantTrailers' listener of every successful unary answer (`this` is the stream). */
function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

/**
 * `grpc-message` as the protocol wants it: UTF-8, with every byte outside printable ASCII and
 * every '%' percent-encoded.
 */
export function encodeGrpcMessage(s: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` (1 to 8 digits and a unit) → ms; undefined when absent; NaN when malformed. */
export function parseGrpcTimeout(v: string | string[] | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^(\d{1,8})([HMSmun])$/.exec(v) : null;
  return m ? Number(m[1]) * TIMEOUT_UNIT_MS[m[2]] : NaN;
}

type Route =
  | { kind: 'bytes'; handler: UnaryBytesHandler }
  | { kind: 'unary' | 'serverStream' | 'bidi'; def: MethodDefinition<any, any>; impl: (...args: any[]) => void };

/**
 * Reads length-prefixed messages out of a stream's DATA chunks. A message arriving in one
 * chunk (the usual case) is a view of that chunk; one split over chunks is concatenated once,
 * when it is complete.
 */
class MessageReader {
  private chunks: Buffer[] = [];
  private have = 0;
  /** The message being read: its length, or -1 while its prefix is incomplete. */
  private length = -1;
  private compressed = false;

  constructor(
    private readonly max: number,
    private readonly sink: { messageRead(compressed: boolean, message: Buffer): void; tooLarge(bytes: number): void },
  ) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.have += chunk.length;
    for (;;) {
      const need = this.length < 0 ? PREFIX_BYTES : PREFIX_BYTES + this.length;
      if (this.have < need) return;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.have);
      if (this.length < 0) {
        this.compressed = all[0] === 1;
        this.length = all.readUInt32BE(1);
        this.chunks = [all];
        if (this.length > this.max) {
          this.chunks = [];
          this.have = 0;
          this.sink.tooLarge(this.length);
          return;
        }
        continue;
      }
      const end = PREFIX_BYTES + this.length;
      const message = all.subarray(PREFIX_BYTES, end);
      this.have -= end;
      this.chunks = this.have > 0 ? [all.subarray(end)] : [];
      this.length = -1;
      this.sink.messageRead(this.compressed, message);
    }
  }

  /** Bytes of an incomplete message left over at the end of the stream. */
  get pending(): number {
    return this.have;
  }
}

/**
 * How a call talks to its HTTP/2 stream, whichever the transport: the answer goes out through
 * it, and the stream's data, end and close come back to the call.
 */
interface StreamPort {
  /** A whole unary answer (the framed message) and OK. */
  unary(framed: Buffer): void;
  /** One framed message of a streamed answer (the response headers go first). */
  message(framed: Buffer): void;
  /** Ends the call with `status`: in trailers after a streamed answer, else trailers-only. */
  status(status: GrpcFailure): void;
  /** Answers a request that is not a gRPC call with a bare HTTP status. */
  reject(httpStatus: number): void;
  /** Starts delivering the request's data (once the call is routed). */
  listen(): void;
  /** The call is over: the stream's links to it are cut. */
  release(): void;
}

/**
 * node:http2's stream as a port. The stream's listeners are shared functions that find the call
 * through CALL (no closures per call), and the link is cut when the call ends.
 */
const CALL = Symbol('pitstop.grpc.call');
type CallStream = http2.ServerHttp2Stream & { [CALL]?: Call };

function onStreamData(this: CallStream, chunk: Buffer): void {
  this[CALL]?.reader?.push(chunk);
}

function onStreamEnd(this: CallStream): void {
  this[CALL]?.requestEnded();
}

function onStreamClose(this: CallStream): void {
  this[CALL]?.closed();
}

class NodePort implements StreamPort {
  private responded = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    call: Call,
  ) {
    (stream as CallStream)[CALL] = call;
    stream.on('close', onStreamClose);
  }

  private get gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  unary(framed: Buffer): void {
    if (this.gone) return;
    this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    this.stream.once('wantTrailers', sendOkTrailers);
    this.stream.end(framed);
  }

  message(framed: Buffer): void {
    if (this.gone) return;
    if (!this.responded) {
      this.responded = true;
      this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    }
    this.stream.write(framed);
  }

  status(status: GrpcFailure): void {
    const s = this.stream;
    // Whatever the client still sends is dropped, so the stream can close.
    s.removeListener('data', onStreamData);
    s.resume();
    if (this.gone) return;
    if (this.responded) {
      s.once('wantTrailers', () => s.sendTrailers(trailersOf(status)));
      s.end();
    } else s.respond({ ':status': 200, 'content-type': 'application/grpc+proto', ...trailersOf(status) }, { endStream: true });
  }

  reject(httpStatus: number): void {
    this.stream.respond({ ':status': httpStatus, ...(httpStatus === 405 ? { allow: 'POST' } : {}) }, { endStream: true });
  }

  listen(): void {
    this.stream.on('data', onStreamData);
    this.stream.on('end', onStreamEnd);
  }

  release(): void {
    const s = this.stream as CallStream;
    s[CALL] = undefined;
    s.removeListener('close', onStreamClose);
    s.removeListener('end', onStreamEnd);
  }
}

const hpack = new HpackEncoder();
/** Response headers and OK trailers, HPACK-encoded once. */
const RESPONSE_HEADERS_BLOCK = hpack.encode(Object.entries(RESPONSE_HEADERS).map(([k, v]) => [k, String(v)] as const));
const OK_TRAILERS_BLOCK = hpack.encode([['grpc-status', '0']]);

/** pitstop's own HTTP/2 stream (h2/session.ts) as a port; it is also the stream's sink. */
class PitstopPort implements StreamPort {
  private call: Call | undefined;

  constructor(
    private readonly stream: H2Stream,
    call: Call,
  ) {
    this.call = call;
    stream.sink = this;
  }

  unary(framed: Buffer): void {
    this.stream.unary(RESPONSE_HEADERS_BLOCK, framed, OK_TRAILERS_BLOCK);
  }

  message(framed: Buffer): void {
    if (!this.stream.headersSent) this.stream.respond(RESPONSE_HEADERS_BLOCK, false);
    this.stream.write(framed);
  }

  status(status: GrpcFailure): void {
    const trailers = Object.entries(trailersOf(status));
    if (this.stream.headersSent) this.stream.end(hpack.encode(trailers));
    else this.stream.respond(hpack.encode([[':status', '200'], ['content-type', 'application/grpc+proto'], ...trailers]), true);
  }

  reject(httpStatus: number): void {
    this.stream.respond(hpack.encode(httpStatus === 405 ? [[':status', '405'], ['allow', 'POST']] : [[':status', String(httpStatus)]]), true);
  }

  /**
   * Nothing to attach: the stream already reports to this port. A call that is never routed is
   * ended (and released) before any of its data or end could arrive, so none reaches it.
   */
  listen(): void {}

  release(): void {
    this.call = undefined;
    this.stream.sink = undefined;
  }

  // The stream's sink.
  data(chunk: Buffer): void {
    this.call?.reader?.push(chunk);
  }

  end(): void {
    this.call?.requestEnded();
  }

  close(): void {
    this.call?.closed();
  }
}

function expireCall(call: Call): void {
  call.expire();
}

/** One call: its stream, deadline, cancellation and answer. */
class Call extends EventEmitter {
  readonly cancel = new Cancellation();
  /** grpc-js style: the request message, decoded (unary and server-streaming). */
  request: unknown;
  cancelled = false;
  /** Answered, failed, or gone: nothing more is sent. */
  done = false;
  private timer: NodeJS.Timeout | undefined;
  /** The stream (set right after construction). */
  port!: StreamPort;
  /** The request's grpc-timeout could not be parsed (the call fails INTERNAL once routed). */
  malformedTimeout = false;

  /** The request's `grpc-encoding` and method path. */
  encoding: string | undefined;
  path = '';
  /** Reads the request's messages (set by the server once the call is routed). */
  reader: MessageReader | undefined;
  /** Unary and server-streaming: the request message, and how many came. */
  requestMessage: Buffer | undefined;
  messages = 0;
  /** The method (set by the server once the call is routed). */
  route: Route | undefined;

  constructor(
    readonly deadlineMs: number,
    timeoutMs: number | undefined,
    private readonly server: GrpcH2Server,
  ) {
    super();
    if (timeoutMs !== undefined) this.timer = setTimeout(expireCall, Math.max(0, timeoutMs), this);
  }

  requestEnded(): void {
    if (!this.done) this.server.requestEnded(this);
  }

  expire(): void {
    this.timer = undefined;
    if (this.done) return;
    this.cancel.abort(new PitstopError('DEADLINE_EXCEEDED', 'deadline exceeded before the answer was ready'));
    this.endWith({ code: CODE.DEADLINE_EXCEEDED, details: 'Deadline exceeded' });
    this.markCancelled();
  }

  closed(): void {
    if (this.done) return;
    // The stream went away before we answered: the client cancelled, or its connection died.
    this.finish();
    this.cancel.abort(new PitstopError('DEADLINE_EXCEEDED', 'client cancelled or deadline passed'));
    this.markCancelled();
  }

  private markCancelled(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled');
  }

  /** Answers one message and OK (a unary call). */
  sendUnary(answer: Buffer | { framed: Buffer }): void {
    if (this.done) return;
    this.finish();
    this.port.unary(Buffer.isBuffer(answer) ? frame(answer) : writePrefix(answer.framed));
  }

  /** Writes one message of a streaming answer (the headers go first). */
  writeMessage(message: Buffer): void {
    if (this.done) return;
    this.port.message(frame(message));
  }

  /**
   * Ends the call with `status`: after a streamed answer in trailers, else trailers-only; or,
   * with `httpStatus`, with that bare HTTP status (not a gRPC call at all).
   */
  endWith(status: GrpcFailure, httpStatus?: number): void {
    if (this.done) return;
    this.finish();
    if (httpStatus !== undefined) this.port.reject(httpStatus);
    else this.port.status(status);
  }

  private finish(): void {
    this.done = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // Cut the stream's links to this call and drop the request bytes.
    this.port.release();
    this.reader = undefined;
    this.requestMessage = undefined;
    this.server.callEnded(this);
  }

  /** MessageReader's sink: a whole request message. */
  messageRead(compressed: boolean, message: Buffer): void {
    if (this.done) return;
    if (compressed) {
      const inflated = this.server.inflate(this, message);
      if (inflated === undefined) return;
      message = inflated;
    }
    this.server.messageArrived(this, message);
  }

  /** MessageReader's sink: a message whose prefix claims more than the limit. */
  tooLarge(bytes: number): void {
    this.endWith(this.server.tooLarge(bytes, this.path));
  }

  /** grpc-js call API used by hosted services. */
  getDeadline(): Date | number {
    return Number.isFinite(this.deadlineMs) ? new Date(this.deadlineMs) : Infinity;
  }
}

/** Fills in the length prefix of `framed` (a message behind PREFIX_BYTES of headroom): uncompressed. */
function writePrefix(framed: Buffer): Buffer {
  framed[0] = 0;
  framed.writeUInt32BE(framed.length - PREFIX_BYTES, 1);
  return framed;
}

/** `message` copied behind its length prefix. */
function frame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  message.copy(framed, PREFIX_BYTES);
  return writePrefix(framed);
}

function trailersOf(status: GrpcFailure): Record<string, string> {
  const t: Record<string, string> = { 'grpc-status': String(status.code) };
  if (status.details) t['grpc-message'] = encodeGrpcMessage(status.details);
  if (status.trailers) Object.assign(t, status.trailers);
  return t;
}

export class GrpcH2Server {
  /** node:http2's server, or a plain TCP server whose connections are H2Sessions. */
  private readonly server: http2.Http2Server | net.Server;
  private readonly routes = new Map<string, Route>();
  /** Open connections: H2Sessions, node:http2 sessions, or their NodeSessionLife (when limited). */
  private readonly sessions = new Set<{ close(): void; destroy(): void; tick?(now: number): void }>();
  /** Streaming calls (health Watch, reflection) open now: ended when the server closes. */
  private readonly streaming = new Set<Call>();
  private draining = false;
  private readonly connectionErrors: Record<string, number> = {};
  private refusedStreams = 0;
  private malformedStreams = 0;
  private readonly retiredConnections: Record<RetireReason, number> = { max_age: 0, max_idle: 0, keepalive_timeout: 0 };
  /** Calls `tick` on every session (when a connection limit is set). */
  private sweep: NodeJS.Timeout | undefined;
  /** When a malformed request was last logged, and how many came since without a line. */
  private malformedLoggedAt = -Infinity;
  private malformedUnlogged = 0;

  constructor(private readonly options: GrpcH2Options) {
    const life = options.connections;
    const limited = hasLimits(life);
    if (limited) {
      this.sweep = setInterval(() => {
        const now = performance.now();
        for (const session of this.sessions) session.tick?.(now);
      }, options.connectionSweepMs ?? 1000).unref();
    }
    const retired = (reason: RetireReason) => void this.retiredConnections[reason]++;
    if (options.transport === 'node') {
      // maxSessionMemory (MB): many large answers in flight on one connection must not be refused
      // as ENHANCE_YOUR_CALM (node's default is 10 MB; grpc-js sets no bound at all).
      const server = http2.createServer({ maxSessionMemory: 1024 });
      /** Each session's life, when a connection limit is set (node-session-life.ts). */
      const lives = new Map<http2.Http2Session, NodeSessionLife>();
      server.on('session', (session) => {
        const entry = limited ? new NodeSessionLife(session, life, retired) : session;
        if (limited) lives.set(session, entry as NodeSessionLife);
        this.sessions.add(entry);
        session.on('error', noop);
        session.once('close', () => {
          this.sessions.delete(entry);
          lives.delete(session);
        });
        if (this.draining) session.close();
      });
      server.on('stream', (stream, headers) => {
        stream.on('error', noop); // a reset stream or a dead connection must never crash the process
        if (limited) lives.get(stream.session!)?.streamStarted(stream);
        const call = this.newCall(headers['grpc-timeout']);
        call.port = new NodePort(stream, call);
        this.onStream(call, headers[':method'] ?? '', headers[':path'] ?? '', headers['content-type'], headers['grpc-encoding'] as string | undefined, headers['grpc-timeout']);
      });
      this.server = server;
      return;
    }
    const sessionOptions = { maxConcurrentStreams: options.maxConcurrentStreams ?? 10_000, maxHeaderListBytes: 64 * 1024, settingsTimeoutMs: options.settingsTimeoutMs, connections: life };
    const host: SessionHost = {
      stream: (stream: H2Stream, head: RequestHead) => {
        const call = this.newCall(head.timeout);
        call.port = new PitstopPort(stream, call);
        this.onStream(call, head.method, head.path, head.contentType, head.encoding, head.timeout);
      },
      sessionClosed: (session: H2Session) => this.sessions.delete(session),
      internalError: (e: unknown) => this.options.log(`HTTP/2 connection closed on an unexpected error: ${(e as Error)?.stack ?? String(e)}`),
      connectionError: (code: number) => {
        const name = H2_ERROR_NAMES.get(code) ?? `0x${code.toString(16)}`;
        this.connectionErrors[name] = (this.connectionErrors[name] ?? 0) + 1;
      },
      streamRefused: () => void this.refusedStreams++,
      streamMalformed: (why: string) => {
        this.malformedStreams++;
        const now = performance.now();
        if (now - this.malformedLoggedAt < MALFORMED_LOG_EVERY_MS) {
          this.malformedUnlogged++;
          return;
        }
        const more = this.malformedUnlogged > 0 ? ` (and ${this.malformedUnlogged} more since the last such line)` : '';
        this.options.log(`gRPC: a malformed HTTP/2 request was reset PROTOCOL_ERROR: ${why}${more}`);
        this.malformedLoggedAt = now;
        this.malformedUnlogged = 0;
      },
      connectionRetired: retired,
    };
    this.server = net.createServer({ noDelay: true }, (socket) => {
      const session = new H2Session(socket, host, sessionOptions);
      if (session.destroyed) return;
      this.sessions.add(session);
      if (this.draining) session.close();
    });
  }

  /** A unary method over bytes (pitstop's own methods). */
  addUnary(path: string, handler: UnaryBytesHandler): void {
    this.routes.set(path, { kind: 'bytes', handler });
  }

  /** A grpc-js style service (what `HealthImplementation.addToServer` and reflection call). */
  addService(definition: ServiceDefinition, implementation: Record<string, (...args: any[]) => void>): void {
    for (const [name, def] of Object.entries(definition)) {
      const originalName = (def as { originalName?: string }).originalName;
      const impl = implementation[name] ?? (originalName ? implementation[originalName] : undefined);
      if (typeof impl !== 'function') continue;
      const kind = def.requestStream ? (def.responseStream ? 'bidi' : undefined) : def.responseStream ? 'serverStream' : 'unary';
      if (kind === undefined) throw new Error(`client-streaming method ${def.path} is not supported`);
      this.routes.set(def.path, { kind, def, impl });
    }
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Open connections, connection errors and refused streams (read at each /metrics scrape). */
  transportStats(): TransportStats {
    return { connections: this.sessions.size, connectionErrors: { ...this.connectionErrors }, refusedStreams: this.refusedStreams, malformedStreams: this.malformedStreams, retiredConnections: { ...this.retiredConnections } };
  }

  /** Called once per call when it is answered, fails or goes away. */
  callEnded(call: Call): void {
    this.streaming.delete(call);
  }

  /**
   * Graceful shutdown: stop accepting connections, end open streaming calls (health Watch)
   * UNAVAILABLE, send GOAWAY on every connection (clients start no new calls on it; each
   * connection closes once its calls are answered), and after `graceMs` close whatever is left.
   */
  async close(graceMs: number): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    clearInterval(this.sweep);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of [...this.streaming]) c.endWith({ code: CODE.UNAVAILABLE, details: 'the server is shutting down' });
    for (const s of [...this.sessions]) s.close();
    let timer: NodeJS.Timeout | undefined;
    const expired = await Promise.race([closed.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
    clearTimeout(timer);
    if (expired) {
      for (const s of [...this.sessions]) s.destroy();
      await closed;
    }
  }

  private newCall(grpcTimeout: string | string[] | undefined): Call {
    const timeoutMs = parseGrpcTimeout(grpcTimeout);
    const valid = timeoutMs !== undefined && !Number.isNaN(timeoutMs);
    const call = new Call(valid ? Date.now() + timeoutMs : Infinity, valid ? timeoutMs : undefined, this);
    if (timeoutMs !== undefined && !valid) call.malformedTimeout = true;
    return call;
  }

  private onStream(call: Call, method: string, path: string, contentType: string | undefined, encoding: string | undefined, grpcTimeout: string | string[] | undefined): void {
    if (method !== 'POST') return this.rejectCall(call, 405);
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) return this.rejectCall(call, 415);
    const route = this.routes.get(path);
    if (!route) return call.endWith({ code: CODE.UNIMPLEMENTED, details: `unknown method ${path}` });
    if (call.malformedTimeout) return call.endWith({ code: CODE.INTERNAL, details: `malformed grpc-timeout ${JSON.stringify(grpcTimeout)}` });
    call.encoding = encoding;
    call.path = path;
    call.route = route;
    call.reader = new MessageReader(this.options.maxMessageBytes, call);
    call.port.listen();
    if (route.kind === 'bidi') {
      this.streaming.add(call);
      this.startHosted(call, route);
    }
  }

  /** Not a gRPC call: a bare HTTP status, and the call is over. */
  private rejectCall(call: Call, httpStatus: number): void {
    call.endWith({ code: CODE.OK, details: '' }, httpStatus);
  }

  /** The failure of a request message of `bytes` bytes to `path`. */
  tooLarge(bytes: number, path: string): GrpcFailure {
    return this.options.tooLarge(bytes, path);
  }

  /** A whole (inflated) request message of `call`. */
  messageArrived(call: Call, message: Buffer): void {
    const route = call.route!;
    if (route.kind === 'bidi') return this.deliver(call, route, message);
    call.messages++;
    call.requestMessage = message;
  }

  /** The client half-closed `call`'s request: run a unary or server-streaming method. */
  requestEnded(call: Call): void {
    const route = call.route!;
    if (route.kind === 'bidi') return void call.emit('end');
    const pending = call.reader?.pending ?? 0;
    if (call.messages !== 1 || pending > 0) return call.endWith({ code: CODE.INTERNAL, details: `a unary call carries exactly one request message; got ${call.messages}${pending > 0 ? ' and a truncated one' : ''}` });
    const message = call.requestMessage!;
    if (route.kind === 'bytes') return this.runBytes(call, route.handler, message);
    try {
      call.request = route.def.requestDeserialize(message);
    } catch {
      return call.endWith({ code: CODE.INTERNAL, details: 'could not parse the request message' });
    }
    if (route.kind === 'serverStream') this.streaming.add(call);
    this.startHosted(call, route);
  }

  /** A compressed request message, inflated within the message limit; undefined when the call failed. */
  inflate(call: Call, message: Buffer): Buffer | undefined {
    const max = this.options.maxMessageBytes;
    const inflate = call.encoding === 'gzip' ? zlib.gunzipSync : call.encoding === 'deflate' ? zlib.inflateSync : undefined;
    if (!inflate) {
      call.endWith({ code: CODE.UNIMPLEMENTED, details: `compressed message with grpc-encoding ${JSON.stringify(call.encoding ?? 'identity')}; gzip and deflate are supported` });
      return undefined;
    }
    let out: Buffer;
    try {
      out = inflate(message, { maxOutputLength: max + 1 });
    } catch (e) {
      const big = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      call.endWith(big ? this.tooLarge(max + 1, call.path) : { code: CODE.INTERNAL, details: 'could not decompress the request message' });
      return undefined;
    }
    if (out.length > max) {
      call.endWith(this.tooLarge(out.length, call.path));
      return undefined;
    }
    return out;
  }

  private runBytes(call: Call, handler: UnaryBytesHandler, request: Buffer): void {
    let p: Promise<Buffer | { framed: Buffer }>;
    try {
      p = handler(request, { cancel: call.cancel, deadlineMs: call.deadlineMs });
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (answer) => call.sendUnary(answer),
      (e: unknown) => call.endWith(e instanceof GrpcStatusError ? e : this.internal(e)),
    );
  }

  private internal(e: unknown): GrpcFailure {
    this.options.log(`unexpected error: ${(e as Error)?.stack ?? String(e)}`);
    return { code: CODE.INTERNAL, details: 'internal error' };
  }

  private deliver(call: Call, route: Extract<Route, { def: unknown }>, message: Buffer): void {
    let decoded: unknown;
    try {
      decoded = route.def.requestDeserialize(message);
    } catch {
      return call.endWith({ code: CODE.INTERNAL, details: 'could not parse the request message' });
    }
    call.emit('data', decoded);
  }

  /** Runs a hosted grpc-js style handler with `call` dressed as grpc-js's call object. */
  private startHosted(call: Call, route: Extract<Route, { def: unknown }>): void {
    const { def, impl } = route;
    const serialize = (m: unknown) => def.responseSerialize(m) as Buffer;
    if (route.kind === 'unary') {
      const callback = (err: { code?: number; details?: string; message?: string } | null, value?: unknown) => {
        if (err) return call.endWith({ code: err.code ?? CODE.UNKNOWN, details: err.details ?? err.message ?? '' });
        let bytes: Buffer;
        try {
          bytes = serialize(value);
        } catch {
          return call.endWith({ code: CODE.INTERNAL, details: 'could not serialize the answer' });
        }
        call.sendUnary(bytes);
      };
      return void impl(call, callback);
    }
    Object.assign(call, {
      write: (m: unknown) => {
        call.writeMessage(serialize(m));
        return true;
      },
      end: () => call.endWith({ code: CODE.OK, details: '' }),
    });
    impl(call);
  }
}
