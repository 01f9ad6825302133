/**
 * Prometheus metrics of a serving process (prom-client, one registry per server so tests can run
 * several). Everything here is observed once per request or once per view of a request, never
 * per value: the value-age histogram samples one entity row per view per request. The per-request
 * families are hot-metrics.ts (recorded without prom-client's per-call label handling).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReadCacheStats } from '../online/ports.ts';
import type { TransportStats } from './grpc-h2.ts';
import { HotCounter, HotHistogram } from './hot-metrics.ts';

/** Latency buckets in seconds, fine below 10 ms where the promise lives. */
const LATENCY_BUCKETS = [0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5];
const AGE_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400];

/** GC pause buckets in seconds: a scavenge is ~1 ms here; a pause that shows at p99 is 5 ms and up. */
const GC_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5];

export class ServingMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new HotHistogram({
    name: 'pitstop_request_duration_seconds',
    help: 'Request latency inside the server, per method and feature service (`_refs` for feature lists, `_unknown` for a service the registry does not have).',
    labelNames: ['transport', 'method', 'feature_service'],
    buckets: LATENCY_BUCKETS,
    registry: this.registry,
  });
  readonly requests = new HotCounter({
    name: 'pitstop_requests_total',
    help: 'Requests answered, per method and status code.',
    labelNames: ['transport', 'method', 'code'],
    registry: this.registry,
  });
  readonly errors = new HotCounter({
    name: 'pitstop_request_errors_total',
    help: 'Requests that failed, per method and status code.',
    labelNames: ['transport', 'method', 'code'],
    registry: this.registry,
  });
  readonly storeRead = new HotHistogram({
    name: 'pitstop_online_read_duration_seconds',
    help: 'Latency of one online store read (all views and entities of a request).',
    labelNames: ['outcome'],
    buckets: LATENCY_BUCKETS,
    registry: this.registry,
  });
  /** The two outcomes of a store read, resolved once. */
  readonly storeReadOk = this.storeRead.child('ok');
  readonly storeReadError = this.storeRead.child('error');
  readonly registryVersion = new Gauge({
    name: 'pitstop_registry_version',
    help: 'The registry version being served (across cluster workers: the lowest, i.e. the version every worker has reached).',
    // Summing versions over workers would be meaningless.
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly valueAge = new HotHistogram({
    name: 'pitstop_served_value_age_seconds',
    help: 'Age (now - event time) of served rows; sampled: the first found entity row per view per request.',
    buckets: AGE_BUCKETS,
    registry: this.registry,
  });

  constructor() {
    // The process's own figures, as Node services export them: CPU, memory, heap spaces,
    // event-loop delay and GC pauses by kind, so a tail in pitstop_request_duration_seconds can
    // be laid beside a GC pause or a blocked loop. All read at scrape time, except one callback
    // per collection (the GC observer) and a 10 ms libuv timer (the event-loop delay histogram).
    collectDefaultMetrics({ register: this.registry, gcDurationBuckets: GC_BUCKETS });
  }

  /**
   * The near cache's counters (online_store.near_cache_mb), read from `stats` at each scrape:
   * hits, misses, invalidations and evictions as counters, entries and bytes as gauges.
   */
  trackNearCache(stats: () => ReadCacheStats | undefined): void {
    const counters: [keyof ReadCacheStats, string, string][] = [
      ['hits', 'pitstop_near_cache_hits_total', 'Rows (or known absences) served from the near cache.'],
      ['misses', 'pitstop_near_cache_misses_total', 'Rows the near cache did not hold, read from Redis.'],
      ['invalidations', 'pitstop_near_cache_invalidations_total', 'Cached rows dropped because Redis reported them changed (or this process wrote them).'],
      ['evictions', 'pitstop_near_cache_evictions_total', 'Cached rows dropped to stay within near_cache_mb.'],
      ['clears', 'pitstop_near_cache_clears_total', 'Times the whole near cache was emptied (a connection it depends on was lost, or FLUSHDB).'],
    ];
    for (const [field, name, help] of counters) {
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const s = stats();
          this.reset();
          if (s) this.inc(s[field]);
        },
      });
    }
    const gauges: [keyof ReadCacheStats, string, string][] = [
      ['entries', 'pitstop_near_cache_entries', 'Entries in the near cache.'],
      ['bytes', 'pitstop_near_cache_bytes', 'Estimated bytes the near cache holds (rows plus per-entry overhead).'],
    ];
    for (const [field, name, help] of gauges) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(stats()?.[field] ?? 0);
        },
      });
    }
  }

  /**
   * The gRPC server's HTTP/2 layer, read from `stats` at each scrape: open connections, how
   * often its guards turned a peer away (connections closed with an HTTP/2 error, by code; streams
   * refused over the concurrency limit; malformed requests reset), and connections closed by the
   * connection limits (max age, max idle, keepalive). A rising ENHANCE_YOUR_CALM count is a client
   * resetting streams or flooding headers; PROTOCOL_ERROR, a broken client.
   */
  trackGrpcTransport(stats: () => TransportStats): void {
    new Gauge({
      name: 'pitstop_grpc_connections',
      help: 'gRPC (HTTP/2) connections open.',
      registers: [this.registry],
      collect() {
        this.set(stats().connections);
      },
    });
    /** A counter whose value at each scrape is a total kept by the transport: one number, or one per label value. */
    const total = (name: string, help: string, read: (s: TransportStats) => number | Record<string, number>, label?: string) =>
      new Counter({
        name,
        help,
        labelNames: label ? [label] : [],
        registers: [this.registry],
        collect() {
          this.reset();
          const v = read(stats());
          if (typeof v === 'number') this.inc(v);
          else for (const [key, n] of Object.entries(v)) this.inc({ [label!]: key }, n);
        },
      });
    total('pitstop_grpc_connection_errors_total', 'gRPC connections the server closed with an HTTP/2 error (GOAWAY), by error code.', (t) => t.connectionErrors, 'code');
    total('pitstop_grpc_streams_refused_total', 'gRPC calls refused with REFUSED_STREAM (over the per-connection stream limit, or while closing); clients retry them.', (t) => t.refusedStreams);
    total(
      'pitstop_grpc_streams_malformed_total',
      'gRPC calls reset PROTOCOL_ERROR because the request was malformed HTTP/2 (RFC 9113 section 8.1.1: a bad or connection-specific field, a missing pseudo-header); the log names the field, at most once a minute.',
      (t) => t.malformedStreams,
    );
    total(
      'pitstop_grpc_connections_retired_total',
      'gRPC connections the server closed by its connection limits: max_age and max_idle (graceful GOAWAY), keepalive_timeout (a keepalive PING unanswered).',
      (t) => t.retiredConnections,
      'reason',
    );
  }

  /** Records one finished request. */
  observe(transport: 'grpc' | 'http', method: string, seconds: number, code: string, featureService: string): void {
    this.requestDuration.child(transport, method, featureService).observe(seconds);
    this.requests.child(transport, method, code).inc();
    if (code !== 'OK') this.errors.child(transport, method, code).inc();
  }
}
