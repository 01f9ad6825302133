/**
 * Prometheus metrics of a serving process (prom-client, one registry per server so tests can run
 * several). Everything here is observed once per request or once per view of a request, never
 * per value: the value-age histogram samples one entity row per view per request.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Latency buckets in seconds, fine below 10 ms where the promise lives. */
const LATENCY_BUCKETS = [0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5];
const AGE_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400];

export class ServingMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'pitstop_request_duration_seconds',
    help: 'Request latency inside the server, per method and feature service (`_refs` for feature lists).',
    labelNames: ['transport', 'method', 'feature_service'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'pitstop_requests_total',
    help: 'Requests answered, per method and status code.',
    labelNames: ['transport', 'method', 'code'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'pitstop_request_errors_total',
    help: 'Requests that failed, per method and status code.',
    labelNames: ['transport', 'method', 'code'] as const,
    registers: [this.registry],
  });
  readonly storeRead = new Histogram({
    name: 'pitstop_online_read_duration_seconds',
    help: 'Latency of one online store read (all views and entities of a request).',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly registryVersion = new Gauge({
    name: 'pitstop_registry_version',
    help: 'The registry version being served (across cluster workers: the lowest, i.e. the version every worker has reached).',
    // Summing versions over workers would be meaningless.
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly valueAge = new Histogram({
    name: 'pitstop_served_value_age_seconds',
    help: 'Age (now - event time) of served rows; sampled: the first found entity row per view per request.',
    buckets: AGE_BUCKETS,
    registers: [this.registry],
  });

  /** Records one finished request. */
  observe(transport: 'grpc' | 'http', method: string, seconds: number, code: string, featureService: string): void {
    this.requestDuration.observe({ transport, method, feature_service: featureService }, seconds);
    this.requests.inc({ transport, method, code });
    if (code !== 'OK') this.errors.inc({ transport, method, code });
  }
}
