/**
 * HTTP/2 (RFC 9113) server connections in JavaScript: cleartext, prior knowledge (what gRPC
 * clients speak), over a plain `net` socket. Just what a gRPC server needs: streams, HPACK
 * (hpack.ts), flow control both ways, SETTINGS, PING, RST_STREAM, GOAWAY and graceful close; no
 * server push, no priorities (parsed, ignored), no HTTP/1.1 upgrade.
 *
 * Why not node:http2: its C++ layer hands every request header value to JavaScript as a V8
 * external string, and V8 allocates external strings straight into the old generation. At
 * 1,000 requests/s that is ~5,000 old-space strings a second, each with a native resource that
 * only a mark-compact frees: every ~45 s a mark-compact whose atomic pause (45-60 ms on the bench
 * VM) is mostly finalizing them (`clear.external_string_table` 19-33 ms in --trace-gc-nvp).
 * Here a repeated header decodes to the same string from the HPACK dynamic table, a stream is
 * one small object that dies young, and an answer (HEADERS, DATA, trailers) goes out in one
 * writev with the answers of every other call finished in the same tick.
 *
 * Limits a server must hold against a hostile or broken peer: header blocks (HEADERS plus
 * CONTINUATION) are capped, concurrent streams are capped (REFUSED_STREAM beyond), the receive
 * windows are enforced (FLOW_CONTROL_ERROR), and a peer that resets streams faster than it could
 * have opened them usefully (rapid reset, CVE-2023-44487) is sent GOAWAY ENHANCE_YOUR_CALM.
 * Requests are held to RFC 9113's rules (section 8.1.1: a malformed one is reset PROTOCOL_ERROR,
 * its connection serves on), and `tick` gives connections a maximum age, a maximum idle time and
 * keepalive PINGs, as gRPC's own servers have them.
 */
import type { Socket } from 'node:net';
import { HpackDecoder, HpackEncoder, HpackError } from './hpack.ts';
import { ConnectionLife, KEEPALIVE_PING, hasLimits, type ConnectionLimits, type RetireReason } from './connection-life.ts';

export const FRAME = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

/** HTTP/2 error codes (RFC 9113 section 7). */
export const H2_ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, SETTINGS_TIMEOUT: 4, STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11 } as const;

const SETTING = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** The largest frame we accept (SETTINGS_MAX_FRAME_SIZE left at the protocol's default). */
const OUR_MAX_FRAME = 16_384;
/** Our receive windows: per stream (SETTINGS_INITIAL_WINDOW_SIZE) and for the connection. */
const STREAM_RECV_WINDOW = 1 << 20;
const CONN_RECV_WINDOW = 16 << 20;
/**
 * Answer bytes buffered for a socket above which its requests are no longer read. The client's
 * flow-control windows bound what is sent per stream, but a client may open windows of 2 GiB and
 * keep asking without reading: memory would grow with every answer.
 */
const WRITE_HIGH_WATER = 8 << 20;

export interface H2SessionOptions {
  /** Streams open at once on a connection; more are refused (REFUSED_STREAM, the client retries). */
  maxConcurrentStreams: number;
  /** Cap on one request's header block, encoded (HEADERS + CONTINUATION) and decoded. */
  maxHeaderListBytes: number;
  /** How long the client has to acknowledge our SETTINGS before the connection ends SETTINGS_TIMEOUT (default 10 s). */
  settingsTimeoutMs?: number;
  /** Connection life, checked by `tick`; absent: connections live until closed. */
  connections?: ConnectionLimits;
}

/** The payload of the PING after a graceful close's first GOAWAY (`close`): its ack ends the first step. */
const SHUTDOWN_PING = Buffer.from('shutdown', 'latin1');
/** The largest stream id (2^31-1): the first GOAWAY of a graceful close names it, so no stream is refused yet. */
const MAX_STREAM_ID = 0x7fffffff;
/** How long a graceful close waits for the client to acknowledge its PING before the final GOAWAY. */
const SHUTDOWN_ACK_MS = 2000;

/** Pseudo-header fields a request may carry (RFC 9113 section 8.3.1), as bits: each at most once. */
const PSEUDO_METHOD = 1;
const PSEUDO_SCHEME = 2;
const PSEUDO_PATH = 4;
const PSEUDO_AUTHORITY = 8;

/**
 * Why a field name is not one HTTP/2 allows (RFC 9113 section 8.2.1: no controls, space,
 * uppercase, DEL or non-ASCII, and no colon but a pseudo-header's first), or '' when it is fine.
 */
function badFieldName(name: string): string {
  if (name.length === 0) return 'an empty field name';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || (c >= 0x41 && c <= 0x5a) || c >= 0x7f || (c === 0x3a && i > 0)) return `field name ${JSON.stringify(name)}`;
  }
  return '';
}

/** Whether a field value breaks RFC 9113 section 8.2.1: NUL, CR or LF anywhere, or space or tab at either end. */
function badFieldValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  let c = value.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return true;
  c = value.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return true;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if (c === 0x00 || c === 0x0a || c === 0x0d) return true;
  }
  return false;
}

/** The request headers a gRPC server reads; the rest are decoded (HPACK needs it) and dropped. */
export interface RequestHead {
  method: string;
  path: string;
  contentType: string;
  /** `grpc-timeout` and `grpc-encoding`, when sent. */
  timeout: string | undefined;
  encoding: string | undefined;
}

/** What a stream reports to whoever handles it (the gRPC call). */
export interface StreamSink {
  /** A DATA payload (a view of the received bytes: valid as long as the caller keeps it). */
  data(chunk: Buffer): void;
  /** The client half-closed its side (END_STREAM). */
  end(): void;
  /** The stream is gone: answered and closed, reset by the client, or its connection died. */
  close(): void;
}

/** One HTTP/2 stream (a call). Small on purpose: thousands a second, each dies young. */
export class H2Stream {
  sink: StreamSink | undefined;
  /** The client sent END_STREAM (or the stream was reset). */
  remoteEnded = false;
  /** We sent END_STREAM (or the stream was reset). */
  localEnded = false;
  closed = false;
  /** Response HEADERS sent (so a failure goes in trailers, not trailers-only). */
  headersSent = false;
  sendWindow: number;
  recvWindow = STREAM_RECV_WINDOW;
  recvUnacked = 0;
  /** Answer bytes waiting for window, and the trailers to send after them. */
  queue: Buffer[] | null = null;
  pendingTrailers: Buffer | null = null;
  /** The request's `content-length` (-1: none sent), and the DATA bytes received, which must come to it. */
  contentLength = -1;
  received = 0;

  constructor(
    readonly id: number,
    readonly session: H2Session,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  /** Response HEADERS from an encoded block; `endStream` for a trailers-only answer. */
  respond(block: Buffer, endStream: boolean): void {
    if (this.localEnded) return;
    this.headersSent = true;
    this.session.writeHeaders(this.id, block, endStream);
    if (endStream) this.session.localEnd(this);
  }

  /** DATA: sent as far as the windows allow, the rest queued until WINDOW_UPDATE. */
  write(data: Buffer): void {
    if (this.localEnded) return;
    this.session.sendData(this, data);
  }

  /** Trailers (an encoded block) ending the stream, after any queued DATA. */
  end(trailers: Buffer): void {
    if (this.localEnded) return;
    if (this.queue !== null) {
      this.pendingTrailers = trailers;
      return;
    }
    this.session.writeHeaders(this.id, trailers, true);
    this.session.localEnd(this);
  }

  /**
   * A whole unary answer: HEADERS, the framed message and the trailers, written together
   * (one writev with whatever else the session writes in this tick).
   */
  unary(headers: Buffer, data: Buffer, trailers: Buffer): void {
    if (this.localEnded) return;
    this.headersSent = true;
    this.session.writeUnary(this, headers, data, trailers);
  }

  /** Resets the stream (RST_STREAM) with an HTTP/2 error code. */
  reset(code: number): void {
    this.session.resetStream(this, code);
  }
}

/** A session's owner: routes new streams, and hears when the session closes. */
export interface SessionHost {
  stream(stream: H2Stream, head: RequestHead): void;
  sessionClosed(session: H2Session): void;
  /** An unexpected error while handling a frame (the connection is then closed INTERNAL_ERROR). */
  internalError(e: unknown): void;
  /** The connection is being closed with GOAWAY `code` (an H2_ERROR other than NO_ERROR): a broken or hostile peer, or a guard that tripped. */
  connectionError(code: number): void;
  /** A new stream was refused (REFUSED_STREAM): over the concurrency limit, or the connection is closing. */
  streamRefused(): void;
  /** A request (or its trailers) was malformed, so its stream was reset PROTOCOL_ERROR; `why` names the field at fault. */
  streamMalformed(why: string): void;
  /** `tick` closed (or began closing) the connection: too old, idle too long, or its keepalive PING went unanswered. */
  connectionRetired(reason: RetireReason): void;
}

function uncorkSession(session: H2Session): void {
  session.uncork();
}

/** One HTTP/2 connection. */
export class H2Session {
  private readonly streams = new Map<number, H2Stream>();
  private readonly decoder: HpackDecoder;
  private rest: Buffer | null = null;
  private prefaceSeen = false;
  /** The client's first frame, a SETTINGS, has come (RFC 9113 section 3.4: anything else first is a connection error). */
  private settingsSeen = false;
  /** Ends the connection SETTINGS_TIMEOUT unless the client acknowledges our SETTINGS first. */
  private settingsTimer: NodeJS.Timeout | undefined;
  /** Its max age, max idle and keepalive (connection-life.ts), asked by `tick`; absent without limits. */
  private readonly life: ConnectionLife | undefined;
  /** Chunks read so far: `life` watches it for a quiet peer. */
  private reads = 0;
  /** The highest stream id the client opened (every lower idle id is closed by that). */
  private lastStreamId = 0;
  /** A header block in progress (HEADERS without END_HEADERS): its stream, flags and fragments. */
  private continuing: { id: number; endStream: boolean; fragments: Buffer[]; bytes: number } | null = null;
  private peerMaxFrame = 16_384;
  private peerInitialWindow = DEFAULT_WINDOW;
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvWindow = DEFAULT_WINDOW;
  private connRecvUnacked = 0;
  /** Streams with DATA waiting for window, in the order they blocked. */
  private blocked: H2Stream[] = [];
  private corked = false;
  /** Reading paused: too many answer bytes are waiting for the client (WRITE_HIGH_WATER). */
  private readPaused = false;
  /** GOAWAY sent: no new streams; the socket ends once the open ones are done. */
  private goingAway = false;
  /**
   * A graceful close's first step is under way (`close`): the first GOAWAY and its PING are out,
   * and the final GOAWAY waits for the PING's ack (or SHUTDOWN_ACK_MS).
   */
  private closing = false;
  private shutdownTimer: NodeJS.Timeout | undefined;
  destroyed = false;
  /** Client resets in the current one-second window (rapid-reset guard). */
  private resets = 0;
  private resetWindowStart = 0;
  /** The request head being decoded (filled by onHeader). */
  private head: RequestHead = { method: '', path: '', contentType: '', timeout: undefined, encoding: undefined };
  /**
   * The header block being decoded: the pseudo-header fields seen (PSEUDO_* bits), whether a
   * regular field came yet, and why the block is malformed ('' while it is not). A malformed
   * request or trailer section is a stream error PROTOCOL_ERROR (RFC 9113 section 8.1.1); the
   * block is still decoded to its end, since the HPACK state is the connection's.
   */
  private pseudo = 0;
  private regular = false;
  private malformed = '';
  /** The block's `content-length` (-1: none). */
  private contentLength = -1;
  private readonly onHeader = (name: string, value: string): void => {
    if (this.malformed !== '') return;
    if (badFieldValue(value)) {
      this.malformed = `the value of ${JSON.stringify(name)}`;
      return;
    }
    const h = this.head;
    if (name.charCodeAt(0) === 0x3a) {
      let bit: number;
      switch (name) {
        case ':method':
          h.method = value;
          bit = PSEUDO_METHOD;
          break;
        case ':path':
          h.path = value;
          bit = PSEUDO_PATH;
          break;
        case ':scheme':
          bit = PSEUDO_SCHEME;
          break;
        case ':authority':
          bit = PSEUDO_AUTHORITY;
          break;
        default:
          this.malformed = `pseudo-header ${JSON.stringify(name)}`;
          return;
      }
      if (this.regular) this.malformed = `pseudo-header ${name} after a regular field`;
      else if (this.pseudo & bit) this.malformed = `a second ${name}`;
      this.pseudo |= bit;
      return;
    }
    this.regular = true;
    switch (name) {
      case 'content-type':
        h.contentType = value;
        break;
      case 'grpc-timeout':
        h.timeout = value;
        break;
      case 'grpc-encoding':
        h.encoding = value;
        break;
      case 'te':
        if (value !== 'trailers') this.malformed = `te: ${JSON.stringify(value)} (only "trailers" is allowed)`;
        break;
      case 'content-length':
        if (this.contentLength >= 0 || !/^\d{1,15}$/.test(value)) this.malformed = `content-length: ${JSON.stringify(value)}`;
        else this.contentLength = Number(value);
        break;
      case 'connection':
      case 'keep-alive':
      case 'proxy-connection':
      case 'transfer-encoding':
      case 'upgrade':
        this.malformed = `connection-specific field ${name}`;
        break;
      default:
        this.malformed = badFieldName(name);
    }
  };
  /** A client's trailer section: no pseudo-header fields, and the same rules for the rest. */
  private readonly onTrailer = (name: string, value: string): void => {
    if (this.malformed !== '') return;
    if (badFieldValue(value)) this.malformed = `the value of ${JSON.stringify(name)}`;
    else if (name.charCodeAt(0) === 0x3a) this.malformed = `pseudo-header ${name} in trailers`;
    else this.malformed = badFieldName(name);
  };

  constructor(
    readonly socket: Socket,
    private readonly host: SessionHost,
    private readonly options: H2SessionOptions,
  ) {
    this.decoder = new HpackDecoder(4096, { maxHeaderListBytes: options.maxHeaderListBytes });
    this.life = hasLimits(options.connections) ? new ConnectionLife(options.connections) : undefined;
    socket.setNoDelay(true);
    // A client host that vanishes without closing (a crash, a cut cable) is found by the kernel's
    // keepalive probes rather than holding its connection and calls forever.
    socket.setKeepAlive(true, 60_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  /**
   * The server preface: our SETTINGS, then the connection window raised to CONN_RECV_WINDOW.
   * Sent once the client's preface has arrived (clients do not wait for it), so that an HTTP/1.1
   * client that knocks here reads a plain-text 505 rather than binary frames.
   */
  private sendPreface(): void {
    const settings = Buffer.allocUnsafe(9 + 18 + 9 + 4);
    writeFrameHeader(settings, 0, 18, FRAME.SETTINGS, 0, 0);
    settings.writeUInt16BE(SETTING.MAX_CONCURRENT_STREAMS, 9);
    settings.writeUInt32BE(this.options.maxConcurrentStreams, 11);
    settings.writeUInt16BE(SETTING.INITIAL_WINDOW_SIZE, 15);
    settings.writeUInt32BE(STREAM_RECV_WINDOW, 17);
    settings.writeUInt16BE(SETTING.MAX_HEADER_LIST_SIZE, 21);
    settings.writeUInt32BE(this.options.maxHeaderListBytes, 23);
    writeFrameHeader(settings, 27, 4, FRAME.WINDOW_UPDATE, 0, 0);
    settings.writeUInt32BE(CONN_RECV_WINDOW - DEFAULT_WINDOW, 36);
    this.connRecvWindow = CONN_RECV_WINDOW;
    this.out(settings);
    this.settingsTimer = setTimeout(() => this.fail(H2_ERROR.SETTINGS_TIMEOUT, 'SETTINGS not acknowledged'), this.options.settingsTimeoutMs ?? 10_000).unref();
  }

  // ---- reading --------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.destroyed) return;
    this.reads++;
    let buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    let off = 0;
    if (!this.prefaceSeen) {
      const n = Math.min(buf.length, CLIENT_PREFACE.length);
      if (buf.compare(CLIENT_PREFACE, 0, n, 0, n) !== 0) return this.notHttp2(buf);
      if (buf.length < CLIENT_PREFACE.length) {
        this.rest = buf;
        return;
      }
      this.prefaceSeen = true;
      off = CLIENT_PREFACE.length;
      this.sendPreface();
    }
    while (buf.length - off >= 9) {
      const length = (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2];
      if (length > OUR_MAX_FRAME) return this.fail(H2_ERROR.FRAME_SIZE_ERROR, `a frame of ${length} bytes; the limit is ${OUR_MAX_FRAME}`);
      if (buf.length - off < 9 + length) break;
      const type = buf[off + 3];
      const flags = buf[off + 4];
      const id = buf.readUInt32BE(off + 5) & 0x7fffffff;
      try {
        this.frame(type, flags, id, buf.subarray(off + 9, off + 9 + length));
      } catch (e) {
        // A bug here or in what a frame set off must not take the process (and every other
        // connection) down: this connection ends, and the host logs it.
        this.host.internalError(e);
        return this.fail(H2_ERROR.INTERNAL_ERROR, 'internal error');
      }
      if (this.destroyed) return;
      off += 9 + length;
    }
    this.rest = off < buf.length ? buf.subarray(off) : null;
    if (this.rest !== null && this.rest.length > 9 + OUR_MAX_FRAME) this.rest = Buffer.from(this.rest); // never pin a large read
  }

  /** Not HTTP/2: an HTTP/1.x request gets a 505 that says where to go; anything else is closed. */
  private notHttp2(buf: Buffer): void {
    if (/^[A-Z]{3,7} /.test(buf.subarray(0, 8).toString('latin1'))) {
      const body = 'this port speaks gRPC over HTTP/2 (prior knowledge, cleartext); the HTTP/JSON API is on the HTTP port\n';
      this.socket.end(`HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    } else this.socket.destroy();
    this.destroy();
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    if (!this.settingsSeen) {
      if (type !== FRAME.SETTINGS || (flags & FLAG_ACK) !== 0) return this.fail(H2_ERROR.PROTOCOL_ERROR, `the client's first frame is of type ${type}, not SETTINGS`);
      this.settingsSeen = true;
    }
    if (this.continuing !== null && type !== FRAME.CONTINUATION) return this.fail(H2_ERROR.PROTOCOL_ERROR, `a frame of type ${type} inside a header block`);
    switch (type) {
      case FRAME.DATA:
        return this.onDataFrame(flags, id, payload);
      case FRAME.HEADERS:
        return this.onHeadersFrame(flags, id, payload);
      case FRAME.PRIORITY:
        if (id === 0) return this.fail(H2_ERROR.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) return this.fail(H2_ERROR.FRAME_SIZE_ERROR, 'PRIORITY frame not 5 bytes');
        return;
      case FRAME.RST_STREAM:
        return this.onRstStream(id, payload);
      case FRAME.SETTINGS:
        return this.onSettings(flags, id, payload);
      case FRAME.PUSH_PROMISE:
        return this.fail(H2_ERROR.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FRAME.PING:
        if (id !== 0) return this.fail(H2_ERROR.PROTOCOL_ERROR, 'PING on a stream');
        if (payload.length !== 8) return this.fail(H2_ERROR.FRAME_SIZE_ERROR, 'PING frame not 8 bytes');
        if ((flags & FLAG_ACK) === 0) {
          this.ping(payload, FLAG_ACK);
        } else if (payload.equals(KEEPALIVE_PING)) this.life?.pingSettled();
        else if (this.closing && payload.equals(SHUTDOWN_PING)) this.finishClose();
        return;
      case FRAME.GOAWAY:
        // The client leaves: no new streams will come; end once the open ones are answered.
        this.goingAway = true;
        return this.maybeEnd();
      case FRAME.WINDOW_UPDATE:
        return this.onWindowUpdate(id, payload);
      case FRAME.CONTINUATION:
        return this.onContinuation(flags, id, payload);
      default:
        return; // unknown frame types are ignored (RFC 9113 section 5.5)
    }
  }

  /** The payload without its padding (PADDED flag), or null when the padding is malformed. */
  private unpad(flags: number, payload: Buffer, extra: number): Buffer | null {
    let start = 0;
    let end = payload.length;
    if (flags & FLAG_PADDED) {
      if (payload.length < 1) return null;
      const pad = payload[0];
      start = 1;
      end -= pad;
    }
    start += extra;
    return end < start ? null : payload.subarray(start, end);
  }

  private onDataFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0) return this.fail(H2_ERROR.PROTOCOL_ERROR, 'DATA on stream 0');
    // Flow control counts the whole frame, padding included, whatever becomes of the stream.
    if (payload.length > this.connRecvWindow) return this.fail(H2_ERROR.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    this.connRecvWindow -= payload.length;
    this.connRecvUnacked += payload.length;
    if (this.connRecvUnacked >= CONN_RECV_WINDOW / 2) this.creditConnection();
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.lastStreamId) return this.fail(H2_ERROR.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      return; // a stream we closed (answered early, or reset): its late DATA is dropped
    }
    if (stream.remoteEnded) return this.resetStream(stream, H2_ERROR.STREAM_CLOSED);
    if (payload.length > stream.recvWindow) return this.resetStream(stream, H2_ERROR.FLOW_CONTROL_ERROR);
    stream.recvWindow -= payload.length;
    const data = this.unpad(flags, payload, 0);
    if (data === null) return this.fail(H2_ERROR.PROTOCOL_ERROR, 'DATA padding longer than the frame');
    const end = (flags & FLAG_END_STREAM) !== 0;
    if (!end) {
      stream.recvUnacked += payload.length;
      if (stream.recvUnacked >= STREAM_RECV_WINDOW / 2) {
        this.windowUpdate(id, stream.recvUnacked);
        stream.recvWindow += stream.recvUnacked;
        stream.recvUnacked = 0;
      }
    }
    if (stream.contentLength >= 0) {
      // RFC 9113 section 8.1.1: DATA must add up to the content-length sent.
      stream.received += data.length;
      if (stream.received > stream.contentLength || (end && stream.received !== stream.contentLength)) {
        this.host.streamMalformed(`content-length ${stream.contentLength}, ${end ? '' : 'over '}${stream.received} bytes of DATA`);
        return this.resetStream(stream, H2_ERROR.PROTOCOL_ERROR);
      }
    }
    if (data.length > 0) stream.sink?.data(data);
    if (end) this.remoteEnd(stream);
  }

  private onHeadersFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0 || (id & 1) === 0) return this.fail(H2_ERROR.PROTOCOL_ERROR, `HEADERS on stream ${id}`);
    const fragment = this.unpad(flags, payload, flags & FLAG_PRIORITY ? 5 : 0);
    if (fragment === null) return this.fail(H2_ERROR.PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (flags & FLAG_END_HEADERS) return this.headerBlock(id, endStream, fragment);
    this.continuing = { id, endStream, fragments: [Buffer.from(fragment)], bytes: fragment.length };
  }

  private onContinuation(flags: number, id: number, payload: Buffer): void {
    const c = this.continuing;
    if (c === null || c.id !== id) return this.fail(H2_ERROR.PROTOCOL_ERROR, `CONTINUATION on stream ${id} without a header block open on it`);
    c.bytes += payload.length;
    // CONTINUATION flood: a block may not grow past the header list cap.
    if (c.bytes > this.options.maxHeaderListBytes) return this.fail(H2_ERROR.ENHANCE_YOUR_CALM, `a header block over ${this.options.maxHeaderListBytes} bytes`);
    c.fragments.push(Buffer.from(payload));
    if ((flags & FLAG_END_HEADERS) === 0) return;
    this.continuing = null;
    this.headerBlock(id, c.endStream, Buffer.concat(c.fragments, c.bytes));
  }

  /** A complete header block: a new stream's request head, or a client's trailers. */
  private headerBlock(id: number, endStream: boolean, block: Buffer): void {
    const existing = this.streams.get(id);
    const head = (this.head = { method: '', path: '', contentType: '', timeout: undefined, encoding: undefined });
    this.pseudo = 0;
    this.regular = false;
    this.malformed = '';
    this.contentLength = -1;
    try {
      // Always decoded, even for a stream that will be refused: the HPACK state is the connection's.
      this.decoder.decode(block, existing === undefined ? this.onHeader : this.onTrailer);
    } catch (e) {
      if (e instanceof HpackError) return this.fail(H2_ERROR.COMPRESSION_ERROR, e.message);
      throw e;
    }
    if (existing !== undefined) {
      // Trailers from the client: they must end the stream.
      if (existing.remoteEnded) return this.resetStream(existing, H2_ERROR.STREAM_CLOSED);
      if (this.malformed !== '') {
        this.host.streamMalformed(`trailers: ${this.malformed}`);
        return this.resetStream(existing, H2_ERROR.PROTOCOL_ERROR);
      }
      if (!endStream) return this.resetStream(existing, H2_ERROR.PROTOCOL_ERROR);
      if (existing.contentLength >= 0 && existing.received !== existing.contentLength) {
        this.host.streamMalformed(`content-length ${existing.contentLength}, ${existing.received} bytes of DATA`);
        return this.resetStream(existing, H2_ERROR.PROTOCOL_ERROR);
      }
      return this.remoteEnd(existing);
    }
    if (id <= this.lastStreamId) return this.fail(H2_ERROR.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
    this.lastStreamId = id;
    if (this.goingAway || this.streams.size >= this.options.maxConcurrentStreams) {
      this.host.streamRefused();
      return this.writeRst(id, H2_ERROR.REFUSED_STREAM);
    }
    // Malformed (RFC 9113 section 8.1.1): a bad field, or :method, :scheme or a non-empty :path missing.
    if (this.malformed === '') {
      if ((this.pseudo & PSEUDO_METHOD) === 0) this.malformed = 'no :method';
      else if ((this.pseudo & PSEUDO_SCHEME) === 0) this.malformed = 'no :scheme';
      else if (head.path === '') this.malformed = 'no :path, or an empty one';
      else if (endStream && this.contentLength > 0) this.malformed = `content-length ${this.contentLength} on a request with no DATA`;
    }
    if (this.malformed !== '') {
      this.host.streamMalformed(this.malformed);
      return this.writeRst(id, H2_ERROR.PROTOCOL_ERROR);
    }
    const stream = new H2Stream(id, this, this.peerInitialWindow);
    stream.contentLength = this.contentLength;
    this.streams.set(id, stream);
    if (endStream) stream.remoteEnded = true;
    this.host.stream(stream, head);
    if (endStream && !stream.closed) stream.sink?.end();
  }

  private onRstStream(id: number, payload: Buffer): void {
    if (id === 0) return this.fail(H2_ERROR.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (payload.length !== 4) return this.fail(H2_ERROR.FRAME_SIZE_ERROR, 'RST_STREAM frame not 4 bytes');
    if (id > this.lastStreamId) return this.fail(H2_ERROR.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
    const now = Date.now();
    if (now - this.resetWindowStart > 1000) {
      this.resetWindowStart = now;
      this.resets = 0;
    }
    // Rapid reset: more resets in a second than streams may be open at once.
    if (++this.resets > Math.max(100, this.options.maxConcurrentStreams)) return this.fail(H2_ERROR.ENHANCE_YOUR_CALM, 'too many stream resets');
    const stream = this.streams.get(id);
    if (stream !== undefined) this.closeStream(stream);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) return this.fail(H2_ERROR.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) {
      if (payload.length !== 0) return this.fail(H2_ERROR.FRAME_SIZE_ERROR, 'SETTINGS ack with a payload');
      clearTimeout(this.settingsTimer);
      return;
    }
    if (payload.length % 6 !== 0) return this.fail(H2_ERROR.FRAME_SIZE_ERROR, 'SETTINGS frame not a multiple of 6 bytes');
    for (let off = 0; off < payload.length; off += 6) {
      const key = payload.readUInt16BE(off);
      const value = payload.readUInt32BE(off + 2);
      if (key === SETTING.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.fail(H2_ERROR.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (key === SETTING.MAX_FRAME_SIZE) {
        if (value < 16_384 || value > 16_777_215) return this.fail(H2_ERROR.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        this.peerMaxFrame = value;
      } else if (key === SETTING.ENABLE_PUSH && value > 1) return this.fail(H2_ERROR.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
      // HEADER_TABLE_SIZE: our encoder keeps no dynamic table, so any size suits it.
    }
    const ack = Buffer.allocUnsafe(9);
    writeFrameHeader(ack, 0, 0, FRAME.SETTINGS, FLAG_ACK, 0);
    this.out(ack);
    this.flushBlocked();
  }

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.fail(H2_ERROR.FRAME_SIZE_ERROR, 'WINDOW_UPDATE frame not 4 bytes');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (increment === 0) return this.fail(H2_ERROR.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      if (this.connSendWindow + increment > MAX_WINDOW) return this.fail(H2_ERROR.FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
      this.connSendWindow += increment;
    } else {
      const stream = this.streams.get(id);
      if (stream === undefined) return;
      if (increment === 0) return this.resetStream(stream, H2_ERROR.PROTOCOL_ERROR);
      if (stream.sendWindow + increment > MAX_WINDOW) return this.resetStream(stream, H2_ERROR.FLOW_CONTROL_ERROR);
      stream.sendWindow += increment;
    }
    this.flushBlocked();
  }

  // ---- writing --------------------------------------------------------------------------------

  /** Writes `buf`, corking the socket until the end of this tick so a tick's frames go in one writev. */
  private out(buf: Buffer): void {
    if (this.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncorkSession, this);
    }
    this.socket.write(buf);
  }

  uncork(): void {
    this.corked = false;
    if (this.destroyed) return;
    this.socket.uncork();
    // A client that asks and does not read: stop reading its requests until its answers drain.
    if (!this.readPaused && this.socket.writableLength > WRITE_HIGH_WATER) {
      this.readPaused = true;
      this.socket.pause();
      this.socket.once('drain', () => {
        this.readPaused = false;
        if (!this.destroyed) this.socket.resume();
      });
    }
  }

  /** A header block as HEADERS (+ CONTINUATION when over the peer's frame size). */
  writeHeaders(id: number, block: Buffer, endStream: boolean): void {
    const max = this.peerMaxFrame;
    const endFlag = endStream ? FLAG_END_STREAM : 0;
    if (block.length <= max) {
      const f = Buffer.allocUnsafe(9 + block.length);
      writeFrameHeader(f, 0, block.length, FRAME.HEADERS, FLAG_END_HEADERS | endFlag, id);
      block.copy(f, 9);
      return this.out(f);
    }
    for (let off = 0; off < block.length; off += max) {
      const part = block.subarray(off, off + max);
      const last = off + max >= block.length;
      const h = Buffer.allocUnsafe(9);
      writeFrameHeader(h, 0, part.length, off === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, (off === 0 ? endFlag : 0) | (last ? FLAG_END_HEADERS : 0), id);
      this.out(h);
      this.out(part);
    }
  }

  /** HEADERS, DATA and trailers of a unary answer; the common case (it fits the windows) in three writes. */
  writeUnary(stream: H2Stream, headers: Buffer, data: Buffer, trailers: Buffer): void {
    const id = stream.id;
    const n = data.length;
    if (n <= this.peerMaxFrame && n <= stream.sendWindow && n <= this.connSendWindow && headers.length <= this.peerMaxFrame && trailers.length <= this.peerMaxFrame) {
      // One buffer for the two frame headers and blocks around the answer.
      const head = Buffer.allocUnsafe(9 + headers.length + 9);
      writeFrameHeader(head, 0, headers.length, FRAME.HEADERS, FLAG_END_HEADERS, id);
      headers.copy(head, 9);
      writeFrameHeader(head, 9 + headers.length, n, FRAME.DATA, 0, id);
      const tail = Buffer.allocUnsafe(9 + trailers.length);
      writeFrameHeader(tail, 0, trailers.length, FRAME.HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, id);
      trailers.copy(tail, 9);
      stream.sendWindow -= n;
      this.connSendWindow -= n;
      this.out(head);
      this.out(data);
      this.out(tail);
      this.localEnd(stream);
      return;
    }
    this.writeHeaders(id, headers, false);
    this.sendData(stream, data);
    stream.end(trailers);
  }

  /** DATA frames within the windows; what does not fit waits in the stream's queue. */
  sendData(stream: H2Stream, data: Buffer): void {
    if (stream.queue !== null) {
      stream.queue.push(data);
      return;
    }
    const sent = this.sendFrames(stream, data);
    if (sent < data.length) {
      stream.queue = [data.subarray(sent)];
      this.blocked.push(stream);
    }
  }

  /** Sends as much of `data` as the windows allow; returns how many bytes went. */
  private sendFrames(stream: H2Stream, data: Buffer): number {
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, this.peerMaxFrame, stream.sendWindow, this.connSendWindow);
      if (n <= 0) break;
      const h = Buffer.allocUnsafe(9);
      writeFrameHeader(h, 0, n, FRAME.DATA, 0, stream.id);
      this.out(h);
      this.out(off === 0 && n === data.length ? data : data.subarray(off, off + n));
      stream.sendWindow -= n;
      this.connSendWindow -= n;
      off += n;
    }
    return off;
  }

  /** After a window grew: blocked streams send what now fits, in the order they blocked. */
  private flushBlocked(): void {
    if (this.blocked.length === 0) return;
    const still: H2Stream[] = [];
    for (const s of this.blocked) {
      if (s.closed || s.queue === null) continue;
      while (s.queue.length > 0) {
        const head = s.queue[0];
        const sent = this.sendFrames(s, head);
        if (sent < head.length) {
          s.queue[0] = head.subarray(sent);
          break;
        }
        s.queue.shift();
      }
      if (s.queue.length > 0) {
        still.push(s);
        continue;
      }
      s.queue = null;
      if (s.pendingTrailers !== null) {
        const t = s.pendingTrailers;
        s.pendingTrailers = null;
        s.end(t);
      }
    }
    this.blocked = still;
  }

  private windowUpdate(id: number, increment: number): void {
    const f = Buffer.allocUnsafe(13);
    writeFrameHeader(f, 0, 4, FRAME.WINDOW_UPDATE, 0, id);
    f.writeUInt32BE(increment, 9);
    this.out(f);
  }

  private creditConnection(): void {
    this.windowUpdate(0, this.connRecvUnacked);
    this.connRecvWindow += this.connRecvUnacked;
    this.connRecvUnacked = 0;
  }

  private writeRst(id: number, code: number): void {
    const f = Buffer.allocUnsafe(13);
    writeFrameHeader(f, 0, 4, FRAME.RST_STREAM, 0, id);
    f.writeUInt32BE(code, 9);
    this.out(f);
  }

  // ---- stream life ----------------------------------------------------------------------------

  private remoteEnd(stream: H2Stream): void {
    stream.remoteEnded = true;
    if (stream.localEnded) return this.closeStream(stream);
    stream.sink?.end();
  }

  /** We sent END_STREAM. A client still sending is told to stop (RST_STREAM NO_ERROR, RFC 9113 8.1). */
  localEnd(stream: H2Stream): void {
    stream.localEnded = true;
    if (!stream.remoteEnded) this.writeRst(stream.id, H2_ERROR.NO_ERROR);
    this.closeStream(stream);
  }

  resetStream(stream: H2Stream, code: number): void {
    if (stream.closed) return;
    this.writeRst(stream.id, code);
    this.closeStream(stream);
  }

  private closeStream(stream: H2Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    stream.remoteEnded = stream.localEnded = true;
    stream.queue = null;
    stream.pendingTrailers = null;
    this.streams.delete(stream.id);
    const sink = stream.sink;
    stream.sink = undefined;
    sink?.close();
    if (this.goingAway) this.maybeEnd();
  }

  // ---- connection life ------------------------------------------------------------------------

  /**
   * Connection housekeeping (ConnectionLimits: max age, max idle, keepalive), called by the
   * server about once a second with performance.now(): nothing on the path of a request does
   * any of it, so its times are as coarse as the calls.
   */
  tick(now: number): void {
    if (this.destroyed || this.life === undefined) return;
    const action = this.life.check(now, this.goingAway || this.closing, this.streams.size, this.lastStreamId, this.reads);
    switch (action) {
      case 'none':
        return;
      case 'cut':
        // Sent GOAWAY for its age: calls still open past the grace are cut off.
        return this.endSocket();
      case 'max_age':
      case 'max_idle':
        this.host.connectionRetired(action);
        return this.close();
      case 'keepalive_timeout':
        this.host.connectionRetired(action);
        this.goaway(H2_ERROR.NO_ERROR, 'keepalive ping not acknowledged');
        return this.endSocket();
      case 'ping':
        return this.ping(KEEPALIVE_PING, 0);
    }
  }

  /**
   * Graceful close, in two steps (RFC 9113 section 6.8): a GOAWAY naming the largest stream id
   * (the client opens no new streams, but those already on their way are still taken) and a
   * PING; once the client acknowledges the PING, every stream it sent before it has arrived, and
   * the final GOAWAY names the last one taken. The socket ends once the open streams are done.
   * A single GOAWAY would refuse a call that crossed it on the wire (REFUSED_STREAM: the client
   * retries it, but pays a round trip more).
   */
  close(): void {
    if (this.destroyed || this.goingAway || this.closing) return;
    this.closing = true;
    this.writeGoaway(MAX_STREAM_ID, H2_ERROR.NO_ERROR, '');
    this.ping(SHUTDOWN_PING, 0);
    this.shutdownTimer = setTimeout(() => this.finishClose(), SHUTDOWN_ACK_MS).unref();
  }

  /** A graceful close's second step: the final GOAWAY. */
  private finishClose(): void {
    clearTimeout(this.shutdownTimer);
    this.closing = false;
    if (this.destroyed || this.goingAway) return;
    this.goaway(H2_ERROR.NO_ERROR);
    this.maybeEnd();
  }

  /** A PING frame with these 8 bytes: ours (flags 0), or the ack of the client's (FLAG_ACK). */
  private ping(payload: Buffer, flags: number): void {
    const f = Buffer.allocUnsafe(17);
    writeFrameHeader(f, 0, 8, FRAME.PING, flags, 0);
    payload.copy(f, 9);
    this.out(f);
  }

  /** GOAWAY `code` naming the last stream taken: no new streams from here on. */
  private goaway(code: number, debug = ''): void {
    this.goingAway = true;
    this.writeGoaway(this.lastStreamId, code, debug);
  }

  private writeGoaway(lastStreamId: number, code: number, debug: string): void {
    const text = Buffer.from(debug, 'utf8');
    const f = Buffer.allocUnsafe(17 + text.length);
    writeFrameHeader(f, 0, 8 + text.length, FRAME.GOAWAY, 0, 0);
    f.writeUInt32BE(lastStreamId, 9);
    f.writeUInt32BE(code, 13);
    text.copy(f, 17);
    this.out(f);
  }

  private maybeEnd(): void {
    if (this.streams.size > 0 || this.destroyed) return;
    this.endSocket();
  }

  /** A connection error: GOAWAY with the code and why, then the socket ends. */
  private fail(code: number, why: string): void {
    if (this.destroyed) return;
    this.host.connectionError(code);
    this.goaway(code, why);
    this.endSocket();
  }

  /** Flushes and ends the socket; a peer that never closes its side is cut off after a second. */
  private endSocket(): void {
    this.uncork();
    this.socket.end();
    setTimeout(destroySocket, 1000, this.socket).unref();
    this.destroy();
  }

  /** Closes the connection now: open streams end (their sinks hear close). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearTimeout(this.settingsTimer);
    clearTimeout(this.shutdownTimer);
    for (const s of [...this.streams.values()]) this.closeStream(s);
    this.blocked = [];
    this.rest = null;
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.destroy();
    this.host.sessionClosed(this);
  }
}


function destroySocket(socket: Socket): void {
  socket.destroy();
}

function writeFrameHeader(buf: Buffer, at: number, length: number, type: number, flags: number, id: number): void {
  buf[at] = length >>> 16;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf.writeUInt32BE(id, at + 5);
}
