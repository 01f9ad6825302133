/**
 * Connection life (connection-life.ts: max age, max idle, keepalive) for a node:http2 session
 * (`grpc_transport: node`), by the same rules and on the same sweep as for pitstop's own HTTP/2
 * layer, so switching the layer does not silently drop the limits.
 *
 * What differs, because node:http2 does it: a graceful close is node's `session.close()` (one
 * GOAWAY naming the last stream taken, not pitstop's two steps: nghttp2 takes no stream after
 * any GOAWAY it sent but its "shutdown notice", which node does not expose); a keepalive PING is
 * `session.ping()`; a connection whose PING went unanswered is destroyed with GOAWAY NO_ERROR
 * (node sends no debug text); "nothing has come" is read off the socket's byte count.
 */
import type http2 from 'node:http2';
import { ConnectionLife, KEEPALIVE_PING, type ConnectionLimits, type RetireReason } from './connection-life.ts';

export class NodeSessionLife {
  private readonly life: ConnectionLife;
  /** Closed gracefully by its limits (age or idleness). */
  private retired = false;
  /** Streams open now, and started ever. */
  private open = 0;
  private started = 0;
  private readonly streamClosed = () => void this.open--;
  private readonly pingAcked = (err: Error | null) => {
    if (err === null) this.life.pingSettled();
  };

  constructor(
    private readonly session: http2.ServerHttp2Session,
    limits: ConnectionLimits,
    private readonly onRetired: (reason: RetireReason) => void,
  ) {
    this.life = new ConnectionLife(limits);
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
    // Behind node's proxy the socket may be read, not used; bytesRead is a plain count.
    const action = this.life.check(now, this.retired || s.closed, this.open, this.started, s.socket?.bytesRead ?? 0);
    switch (action) {
      case 'none':
        return;
      case 'cut':
        return s.destroy();
      case 'max_age':
      case 'max_idle':
        this.retired = true;
        this.onRetired(action);
        return s.close();
      case 'keepalive_timeout':
        this.onRetired(action);
        return s.destroy();
      case 'ping': {
        let sent = false;
        try {
          sent = s.ping(KEEPALIVE_PING, this.pingAcked);
        } catch {
          // node refuses PINGs on some closing sessions: then none is outstanding
        }
        if (!sent) this.life.pingSettled();
        return;
      }
    }
  }
}
