/**
 * Connection life, as gRPC's own servers have it (grpc-go's MaxConnectionAge,
 * MaxConnectionIdle, keepalive): the rules, apart from any HTTP/2 layer. Each connection has a
 * ConnectionLife; the server's sweep asks it, about once a second, what is due (`check`), and the
 * connection does it in its own terms: pitstop's HTTP/2 layer (session.ts) or node:http2
 * (node-session-life.ts). Nothing of it is on a request's path.
 */

/**
 * How long connections live (0: never). A connection older than `maxAgeMs` (±10%, so
 * connections made together do not all go at once) gets a graceful GOAWAY, and is cut
 * `maxAgeGraceMs` later if calls are still open; one with no call for `maxIdleMs` gets a
 * graceful GOAWAY; one from which nothing has come for `keepaliveTimeMs` is sent a PING, and
 * closed unless it is acknowledged within `keepaliveTimeoutMs`.
 */
export interface ConnectionLimits {
  maxAgeMs: number;
  maxAgeGraceMs: number;
  maxIdleMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

/** Why a connection was retired by its limits. */
export type RetireReason = 'max_age' | 'max_idle' | 'keepalive_timeout';

/**
 * What `check` says is due: nothing; a graceful close for the connection's age or idleness; a
 * keepalive PING (with KEEPALIVE_PING); closing it for a PING gone unanswered; or cutting it off,
 * its age grace over.
 */
export type LifeAction = 'none' | 'max_age' | 'max_idle' | 'ping' | 'keepalive_timeout' | 'cut';

/** The opaque payload of our keepalive PINGs (any 8 bytes; the client echoes them in its ack). */
export const KEEPALIVE_PING = Buffer.from('pitstop!', 'latin1');

export function hasLimits(limits: ConnectionLimits | undefined): limits is ConnectionLimits {
  return limits !== undefined && (limits.maxAgeMs > 0 || limits.maxIdleMs > 0 || limits.keepaliveTimeMs > 0);
}

export class ConnectionLife {
  private readonly startedAt: number;
  private readonly ageLimitMs: number;
  /** When the connection was closed for its age (-1: not). */
  private agedAt = -1;
  /** The stream mark as last seen, and since when no stream was open and none started. */
  private idleMark = -1;
  private idleSince = 0;
  /** The activity count as last seen, and since when it did not move. */
  private activitySeen = 0;
  private quietSince: number;
  /** When our keepalive PING went out (-1: none outstanding). */
  private pingSentAt = -1;

  constructor(
    private readonly limits: ConnectionLimits,
    now = performance.now(),
  ) {
    this.startedAt = this.quietSince = now;
    this.ageLimitMs = limits.maxAgeMs * (0.9 + 0.2 * Math.random());
  }

  /**
   * What is due at `now` (performance.now()). `closing`: the connection is going away already
   * (no age or idle close then, only the age grace and keepalive); `openStreams`: streams open
   * now; `streamMark`: any number that changes when a stream starts; `activity`: any number that
   * changes when anything arrives from the peer.
   */
  check(now: number, closing: boolean, openStreams: number, streamMark: number, activity: number): LifeAction {
    const o = this.limits;
    if (this.agedAt >= 0) return now - this.agedAt >= o.maxAgeGraceMs ? 'cut' : 'none';
    if (!closing) {
      if (this.ageLimitMs > 0 && now - this.startedAt >= this.ageLimitMs) {
        this.agedAt = now;
        return 'max_age';
      }
      if (o.maxIdleMs > 0) {
        if (openStreams > 0 || streamMark !== this.idleMark) {
          this.idleMark = streamMark;
          this.idleSince = now;
        } else if (now - this.idleSince >= o.maxIdleMs) return 'max_idle';
      }
    }
    if (o.keepaliveTimeMs > 0) {
      if (this.pingSentAt >= 0) {
        if (now - this.pingSentAt >= o.keepaliveTimeoutMs) return 'keepalive_timeout';
      } else if (activity !== this.activitySeen) {
        this.activitySeen = activity;
        this.quietSince = now;
      } else if (now - this.quietSince >= o.keepaliveTimeMs) {
        this.pingSentAt = this.quietSince = now;
        return 'ping';
      }
    }
    return 'none';
  }

  /** Our keepalive PING was acknowledged, or could not be sent: none is outstanding. */
  pingSettled(): void {
    this.pingSentAt = -1;
  }
}
