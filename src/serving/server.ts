/**
 * One serving process: gRPC and HTTP listeners over one ServingService, its metrics, and its
 * lifecycle. `start()` binds (port 0 picks a free port; the bound ports are on the instance);
 * `close()` shuts down gracefully: health goes NOT_SERVING and readiness fails, listeners stop
 * accepting, in-flight requests drain (up to the grace period), then connections close. The
 * holder, reader and writer belong to the caller (the composition root closes them after).
 */
import type http from 'node:http';
import type { HealthImplementation } from 'grpc-health-check';
import type { OnlineReader } from '../online/ports.ts';
import { createGrpcServer } from './grpc-server.ts';
import type { GrpcConnectionLimits, GrpcH2Server, GrpcTransport } from './grpc-h2.ts';
import { createHttpServer } from './http-server.ts';
import { ServingMetrics } from './metrics.ts';
import type { ReadCacheStatsSource } from '../online/ports.ts';
import { SERVICE_NAME } from './proto.ts';
import { ServingService, type PushFn, type ServingLimits } from './service.ts';
import type { SnapshotHolder } from './snapshot-holder.ts';

export interface ServerOptions {
  holder: SnapshotHolder;
  reader: OnlineReader;
  push?: PushFn;
  /** Listen address; default 0.0.0.0. */
  host?: string;
  /** gRPC port; 0 picks a free one. Negative disables gRPC. */
  grpcPort: number;
  /** The gRPC server's HTTP/2 layer; default 'pitstop' (grpc-h2.ts). */
  grpcTransport?: GrpcTransport;
  /** How long gRPC connections live (max age, max idle, keepalive; either HTTP/2 layer); default: forever, no keepalive. */
  grpcConnections?: GrpcConnectionLimits;
  /** HTTP port; 0 picks a free one. Negative disables HTTP. */
  httpPort: number;
  limits: ServingLimits;
  /** Log sink; default stderr. */
  log?: (line: string) => void;
  /** Prometheus text for /metrics (cluster mode aggregates across workers); default: this process. */
  metricsText?: (own: ServingMetrics) => Promise<string>;
  /** Readiness ping timeout in ms; default 500. */
  readyTimeoutMs?: number;
  /**
   * Start warming up: /readyz answers 503 WARMING_UP and gRPC health NOT_SERVING until
   * `warmedUp()` (app/warmup.ts sends the lookups meanwhile). Default false.
   */
  warmingUp?: boolean;
}

export class PitstopServer {
  grpcPort = -1;
  httpPort = -1;
  readonly metrics = new ServingMetrics();
  readonly service: ServingService;
  private grpc?: GrpcH2Server;
  private health?: HealthImplementation;
  private http?: http.Server;
  private draining = false;
  private warming: boolean;
  private readonly log: (line: string) => void;

  /** No I/O; `start()` binds. */
  constructor(private readonly options: ServerOptions) {
    this.log = options.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.warming = options.warmingUp === true;
    this.service = new ServingService({ holder: options.holder, reader: options.reader, metrics: this.metrics, limits: options.limits, push: options.push });
    const cached = options.reader as Partial<ReadCacheStatsSource>;
    if (typeof cached.nearCacheStats === 'function' && cached.nearCacheStats() !== undefined) this.metrics.trackNearCache(() => cached.nearCacheStats!());
  }

  static async start(options: ServerOptions): Promise<PitstopServer> {
    const s = new PitstopServer(options);
    await s.listen();
    return s;
  }

  private async listen(): Promise<void> {
    const { host = '0.0.0.0', limits } = this.options;
    if (this.options.grpcPort >= 0) {
      const { server, health } = createGrpcServer(this.service, { log: this.log, metrics: this.metrics, maxMessageBytes: limits.maxMessageBytes, transport: this.options.grpcTransport, connections: this.options.grpcConnections });
      this.grpc = server;
      this.health = health;
      this.metrics.trackGrpcTransport(() => server.transportStats());
      this.grpcPort = await server.listen(host, this.options.grpcPort);
    }
    if (this.options.httpPort >= 0) {
      const readyTimeout = this.options.readyTimeoutMs ?? 500;
      const server = createHttpServer(this.service, {
        log: this.log,
        metrics: this.metrics,
        maxMessageBytes: limits.maxMessageBytes,
        draining: () => this.draining,
        warming: () => this.warming,
        ready: () => withTimeout(this.options.reader.ping(), readyTimeout, 'online store ping timed out'),
        metricsText: this.options.metricsText ? () => this.options.metricsText!(this.metrics) : undefined,
      });
      server.keepAliveTimeout = 65_000;
      this.http = server;
      this.httpPort = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.options.httpPort, host, () => resolve((server.address() as { port: number }).port));
      });
    }
    this.options.holder.onSwap((snap) => {
      this.metrics.registryVersion.set(snap.snapshot.version);
      if (!this.draining && !this.warming) this.setHealth('SERVING');
    });
  }

  /** The warm-up is over: ready (and SERVING, once a registry version is served). */
  warmedUp(): void {
    if (!this.warming) return;
    this.warming = false;
    if (!this.draining && this.options.holder.current()) this.setHealth('SERVING');
  }

  private setHealth(status: 'SERVING' | 'NOT_SERVING'): void {
    this.health?.setStatus('', status);
    this.health?.setStatus(SERVICE_NAME, status);
  }

  /**
   * Graceful shutdown: NOT_SERVING, stop accepting, drain in-flight requests for up to `graceMs`
   * (default 10000), then close every connection.
   */
  async close(graceMs = 10_000): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.setHealth('NOT_SERVING');
    const waits: Promise<void>[] = [];
    if (this.grpc) waits.push(this.grpc.close(graceMs));
    const h = this.http;
    if (h) {
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => h.closeAllConnections(), graceMs);
          h.close(() => {
            clearTimeout(timer);
            resolve();
          });
          h.closeIdleConnections();
          // Keep-alive connections that finish a request later are closed as they go idle.
          const idle = setInterval(() => h.closeIdleConnections(), 50);
          h.once('close', () => clearInterval(idle));
        }),
      );
    }
    await Promise.all(waits);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
