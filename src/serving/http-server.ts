/**
 * The HTTP/JSON transport (node:http) over the same ServingService as gRPC:
 *   POST /v1/get-online-features   {features | feature_service, entities, full_feature_names}
 *   POST /v1/push                  {feature_view, columns, to_offline}
 *   GET  /v1/feature-services      the feature service listing
 *   GET  /healthz                  liveness (200 unless draining)
 *   GET  /readyz                   200 when a registry version is served, the start-up warm-up is over and the store answers
 *   GET  /metrics                  Prometheus text
 * Errors answer `{"error": {"code", "reason", "message"}}` with the status from HTTP_STATUS.
 *
 * A client sets its deadline with `x-pitstop-timeout-ms: N` (N ms from when the request arrives;
 * gRPC clients use the call deadline). When it passes, the answer is 504 DEADLINE_EXCEEDED at
 * once and a lookup stops waiting on the store; like a gRPC deadline, a push already under way is
 * not undone.
 */
import http from 'node:http';
import { PitstopError, shownText } from '../core/errors.ts';
import { Cancellation } from './cancellation.ts';
import { HTTP_STATUS, publicError } from './error-map.ts';
import type { ServingMetrics } from './metrics.ts';
import { encodeJsonResponse } from './json-encoder.ts';
import { EVENT_TIMESTAMPS, EVENT_TIMESTAMPS_NAMES, type EventTimestampsMode } from './result.ts';
import type { ServingService } from './service.ts';

export interface HttpServerOptions {
  log: (line: string) => void;
  metrics: ServingMetrics;
  maxMessageBytes: number;
  /** Readiness check beyond "a snapshot is served" (the store ping); rejects when not ready. */
  ready: () => Promise<void>;
  /** True once shutdown began. */
  draining: () => boolean;
  /** True while the server warms up before it reports ready (`serving.warmup_ms`). */
  warming?: () => boolean;
  /** Prometheus text for /metrics; default: this process's registry. */
  metricsText?: () => Promise<string>;
}


/**
 * The request body as JSON. Events rather than `for await` (an async iterator per request cost
 * ~4% of the HTTP server's CPU in a closed-loop profile). A body over `max` bytes is refused
 * once it is known to be, and the rest of it is read and dropped, so the answer still reaches
 * the client on the same connection.
 */
function readJson(req: http.IncomingMessage, max: number): Promise<any> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] | null = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (chunks === null) return;
      if (size > max) {
        chunks = null;
        reject(new PitstopError('LIMIT_EXCEEDED', `the request body exceeds ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (chunks === null) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      try {
        resolve(JSON.parse(body.toString('utf8')));
      } catch (e) {
        reject(new PitstopError('BAD_REQUEST', `the request body is not valid JSON: ${(e as Error).message}`));
      }
    });
    req.once('error', reject);
  });
}

export const TIMEOUT_HEADER = 'x-pitstop-timeout-ms';
/** The longest deadline a header may set (setTimeout's limit is 2^31 - 1 ms). */
const MAX_TIMEOUT_MS = 3_600_000;

/** The request's deadline in ms from now, undefined without the header; BAD_REQUEST naming the value otherwise. */
function requestTimeoutMs(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join(',') : header;
  const ms = /^\s*\d{1,7}\s*$/.test(text) ? Number(text) : NaN;
  if (!(ms >= 1 && ms <= MAX_TIMEOUT_MS)) {
    throw new PitstopError('BAD_REQUEST', `header ${TIMEOUT_HEADER} must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** `event_timestamps` of a JSON lookup: absent, or one of the mode names. */
function eventTimestampsMode(v: unknown): EventTimestampsMode {
  if (v === undefined || v === null) return EVENT_TIMESTAMPS.PER_FEATURE;
  const i = typeof v === 'string' ? (EVENT_TIMESTAMPS_NAMES as readonly string[]).indexOf(v) : -1;
  if (i < 0) throw new PitstopError('BAD_REQUEST', `event_timestamps must be "per_feature", "per_view" or "none", got ${typeof v === 'string' ? shownText(v) : String(JSON.stringify(v)).slice(0, 40)}`);
  return i as EventTimestampsMode;
}

function send(res: http.ServerResponse, status: number, body: string | Buffer, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length });
  res.end(body);
}

export function createHttpServer(service: ServingService, options: HttpServerOptions): http.Server {
  const { metrics, log, maxMessageBytes } = options;
    // Metrics label of the request being handled (ServingService.serviceLabel), set by the route.
  type Route = (req: http.IncomingMessage, cancel: Cancellation, label: { value: string }) => Promise<[number, string | Buffer, string?]>;
  const routes: Record<string, Route> = {
    'POST /v1/get-online-features': async (req, cancel, label) => {
      const body = await readJson(req, maxMessageBytes);
      label.value = service.serviceLabel(body?.feature_service);
      if (!body || typeof body !== 'object' || typeof body.entities !== 'object' || body.entities === null) {
        throw new PitstopError('BAD_REQUEST', 'the body must be an object with `entities` and `features` or `feature_service`');
      }
      const r = await service.getOnlineFeatures(
        {
          featureService: typeof body.feature_service === 'string' ? body.feature_service : undefined,
          features: Array.isArray(body.features) ? body.features.map(String) : undefined,
          entities: body.entities,
          fullFeatureNames: body.full_feature_names === true,
          eventTimestamps: eventTimestampsMode(body.event_timestamps),
          base64BytesKeys: true,
        },
        cancel,
      );
      return [200, encodeJsonResponse(r)];
    },
    'POST /v1/push': async (req) => {
      const body = await readJson(req, maxMessageBytes);
      if (!body || typeof body.feature_view !== 'string' || typeof body.columns !== 'object' || body.columns === null) {
        throw new PitstopError('BAD_REQUEST', 'the body must be an object with `feature_view` and `columns`');
      }
      if (body.to_offline !== undefined && typeof body.to_offline !== 'boolean') {
        throw new PitstopError('BAD_REQUEST', `to_offline must be true or false, got ${JSON.stringify(body.to_offline)}`);
      }
      const r = await service.push(body.feature_view, body.columns, { toOffline: body.to_offline === true, base64Bytes: true });
      return [200, JSON.stringify({ written: r.written, stale: r.stale, offline_rows: r.offlineRows })];
    },
    'GET /v1/feature-services': async () => [200, JSON.stringify(service.listFeatureServices())],
    'GET /healthz': async () => (options.draining() ? [503, '{"status":"draining"}'] : [200, '{"status":"ok"}']),
    'GET /readyz': async () => {
      if (options.draining()) return [503, '{"ready":false,"reason":"SHUTTING_DOWN"}'];
      if (options.warming?.()) return [503, '{"ready":false,"reason":"WARMING_UP"}'];
      const snap = service.deps.holder.current();
      if (!snap) return [503, '{"ready":false,"reason":"REGISTRY_EMPTY"}'];
      try {
        await options.ready();
      } catch (e) {
        return [503, JSON.stringify({ ready: false, reason: 'ONLINE_STORE_UNAVAILABLE', message: (e as Error).message })];
      }
      return [200, JSON.stringify({ ready: true, registry_version: snap.snapshot.version })];
    },
    'GET /metrics': async () => [200, await (options.metricsText ?? (() => metrics.registry.metrics()))(), metrics.registry.contentType],
  };

  return http.createServer((req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const key = `${req.method} ${path}`;
    const route = routes[key];
    const method = path.startsWith('/v1/') ? path.slice(4) : path.slice(1);
    if (!route) {
      send(res, 404, JSON.stringify({ error: { code: 'NOT_FOUND', reason: 'BAD_REQUEST', message: `no route ${key}` } }));
      return;
    }
    const cancel = new Cancellation();
    res.once('close', () => {
      if (!res.writableFinished) cancel.abort(new PitstopError('DEADLINE_EXCEEDED', 'the client went away'));
    });
    const label = { value: '' };
    let timer: NodeJS.Timeout | undefined;
    let answer: Promise<[number, string | Buffer, string?]>;
    try {
      const timeoutMs = requestTimeoutMs(req.headers[TIMEOUT_HEADER]);
      const work = route(req, cancel, label);
      if (timeoutMs === undefined) answer = work;
      else {
        timer = setTimeout(() => cancel.abort(new PitstopError('DEADLINE_EXCEEDED', `the ${timeoutMs} ms deadline (${TIMEOUT_HEADER}) passed before the answer was ready`)), timeoutMs);
        work.catch(() => {}); // when the deadline wins the race, the route's own failure has no one to tell
        answer = Promise.race([work, cancel.promise]);
      }
    } catch (e) {
      answer = Promise.reject(e);
    }
    answer.then(
      ([status, body, type]) => {
        clearTimeout(timer);
        if (path.startsWith('/v1/')) metrics.observe('http', method, (performance.now() - started) / 1000, 'OK', label.value);
        send(res, status, body, type);
      },
      (e: unknown) => {
        clearTimeout(timer);
        const err = publicError(e, log);
        if (path.startsWith('/v1/')) metrics.observe('http', method, (performance.now() - started) / 1000, err.code, label.value);
        if (!res.headersSent) send(res, HTTP_STATUS[err.code], JSON.stringify({ error: err }));
      },
    );
  });
}
