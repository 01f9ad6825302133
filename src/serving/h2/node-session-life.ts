/**
 * Connection life (ConnectionLimits: max age, max idle, keepalive) for a node:http2 session
 * (`grpc_transport: node`), by the same rules and on the same sweep as H2Session.tick does it
 * for pitstop's own HTTP/2 layer, so switching the layer does not silently drop the limits.
 *
 * What differs, because node:http2 does it: a graceful close is node's `session.close()` (one
 * GOAWAY naming the last stream taken, not pitstop's two steps); a keepalive PING is
 * `session.ping()`; a connection whose PING went unanswered is destroyed with GOAWAY NO_ERROR
 * (node sends no debug text); "nothing has come" is read off the socket's byte count.
 */
import type http2 from 'node:http2';
import { KEEPALIVE_PING, type ConnectionLimits, type RetireReason } from './session.ts';

export class NodeSessionLife {
  private readonly startedAt = performance.now();
  private readonly ageLimitMs: number;
  /** When it was closed for its age (-1: not). */
  private agedAt = -1;
  /** Closed gracefully (by age or idleness): no further limits apply but the age grace. */
  private retired = false;
  /** Streams open now, and started ever (as last seen by `tick`, and since when none started). */
  private open = 0;
  private started = 0;
  private idleMark = -1;
  private idleSince = this.startedAt;
  /** Bytes read off the socket, as last seen by `tick`, and since when none came. */
  private bytesSeen = 0;
  private quietSince = this.startedAt;
  /** When our keepalive PING went out (-1: none outstanding). */
  private pingSentAt = -1;
  private readonly streamClosed = () => void this.open--;
  private readonly pingAcked = (err: Error | null) => {
    if (err === null) this.pingSentAt = -1;
  };

  constructor(
    private readonly session: http2.ServerHttp2Session,
    private readonly limits: ConnectionLimits,
    private readonly onRetired: (reason: RetireReason) => void,
  ) {
    this.ageLimitMs = limits.maxAgeMs * (0.9 + 0.2 * Math.random());
  }

  /** A stream began on this session. */
  streamStarted(stream: http2.ServerHttp2Stream): void {
    this.started++;
    this.open++;
    stream.once('close', this.streamClosed);
  }

  close(): void {
    this.session.close();
  }

  destroy(): void {
    this.session.destroy();
  }

  /** Called by the server's sweep with performance.now(). */
  tick(now: number): void {
    const s = this.session;
    if (s.destroyed) return;
    const o = this.limits;
    if (this.agedAt >= 0) {
      if (now - this.agedAt >= o.maxAgeGraceMs) s.destroy();
      return;
    }
    if (this.retired || s.closed) return;
    if (this.ageLimitMs > 0 && now - this.startedAt >= this.ageLimitMs) {
      this.agedAt = now;
      return this.retire('max_age');
    }
    if (o.maxIdleMs > 0) {
      if (this.open > 0 || this.started !== this.idleMark) {
        this.idleMark = this.started;
        this.idleSince = now;
      } else if (now - this.idleSince >= o.maxIdleMs) return this.retire('max_idle');
    }
    if (o.keepaliveTimeMs > 0) {
      // Behind node's proxy the socket may be read, not used; bytesRead is a plain count.
      const bytes = s.socket?.bytesRead ?? 0;
      if (this.pingSentAt >= 0) {
        if (now - this.pingSentAt >= o.keepaliveTimeoutMs) {
          this.onRetired('keepalive_timeout');
          s.destroy();
        }
      } else if (bytes !== this.bytesSeen) {
        this.bytesSeen = bytes;
        this.quietSince = now;
      } else if (now - this.quietSince >= o.keepaliveTimeMs) {
        if (s.ping(KEEPALIVE_PING, this.pingAcked)) this.pingSentAt = now;
        this.quietSince = now;
      }
    }
  }

  private retire(reason: RetireReason): void {
    this.retired = true;
    this.onRetired(reason);
    this.session.close();
  }
}
