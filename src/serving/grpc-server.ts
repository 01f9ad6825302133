/**
 * The gRPC transport: ServingService plus the standard health service and server reflection, on
 * pitstop's own gRPC-over-HTTP/2 server (grpc-h2.ts; grpc-js stays the client library). Thin:
 * bytes → ServingService → bytes. GetOnlineFeatures bypasses protobufjs both ways:
 * `decodeGetOnlineFeaturesRequest` reads the request into plain columns and `encodeResponse`
 * writes the answer, with the stored Value bytes spliced in, straight into the framed buffer
 * that goes on the wire.
 */
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { PitstopError } from '../core/errors.ts';
import { GRPC_STATUS, publicError } from './error-map.ts';
import { GrpcH2Server, GrpcStatusError, PREFIX_BYTES, type CallContext, type GrpcConnectionLimits, type GrpcTransport } from './grpc-h2.ts';
import type { ServingMetrics } from './metrics.ts';
import { SERVICE_NAME, servingMethods, servingPackageDefinition } from './proto.ts';
import { encodeResponse } from './response-encoder.ts';
import { decodeGetOnlineFeaturesRequest } from './request-decoder.ts';
import type { ServingService } from './service.ts';

export interface GrpcServerOptions {
  log: (line: string) => void;
  metrics: ServingMetrics;
  /** Requests above this many bytes fail INVALID_ARGUMENT (LIMIT_EXCEEDED). */
  maxMessageBytes: number;
  /** The HTTP/2 layer; default 'pitstop'. */
  transport?: GrpcTransport;
  /** Connection life (pitstop transport); default: none of it. */
  connections?: GrpcConnectionLimits;
}

type ValueMsg = { val?: string } & Record<string, unknown>;
type Columns = Record<string, { val?: ValueMsg[] }>;

/** A `pitstop.types.v1.Value` as decoded by proto-loader → a plain JS value (null when unset). */
export function valueToJs(v: ValueMsg | undefined): unknown {
  if (!v || !v.val) return null;
  const x = v[v.val];
  const int64 = v.val === 'int64_val' || v.val === 'unix_timestamp_ms_val' || v.val === 'int64_list_val' || v.val === 'unix_timestamp_ms_list_val';
  if (v.val.endsWith('_list_val')) {
    const list = (x as { val?: unknown[] })?.val ?? [];
    return int64 ? list.map(int64ToJs) : list;
  }
  return int64 ? int64ToJs(x) : x;
}

/** proto-loader gives int64 as a decimal string: a number when exact, else a bigint. */
function int64ToJs(x: unknown): number | bigint {
  const n = Number(x);
  return Number.isSafeInteger(n) ? n : BigInt(x as string);
}

function columnsToJs(columns: Columns | undefined): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  if (!columns) return out;
  for (const name of Object.keys(columns)) {
    const vals = columns[name]?.val ?? [];
    const col = new Array(vals.length);
    for (let i = 0; i < vals.length; i++) col[i] = valueToJs(vals[i]);
    out[name] = col;
  }
  return out;
}

/** A proto-loader decode of a request message; a malformed one is BAD_REQUEST naming the method. */
function decodeWith<T>(method: string, decode: (b: Buffer) => unknown, bytes: Buffer): T {
  try {
    return decode(bytes) as T;
  } catch (e) {
    throw new PitstopError('BAD_REQUEST', `malformed ${method} request: ${(e as Error).message}`);
  }
}

export function createGrpcServer(service: ServingService, options: GrpcServerOptions): { server: GrpcH2Server; health: HealthImplementation } {
  const { metrics, log, maxMessageBytes } = options;
  const methods = servingMethods();
  const nameOf = new Map(Object.entries(methods).map(([name, m]) => [m.path, name]));
  const observe = (method: string, seconds: number, code: string, label: string) => metrics.observe('grpc', method, seconds, code, label);
  /** A failure as the client sees it (unexpected errors logged here), and its code for metrics. */
  const failure = (e: unknown): { error: GrpcStatusError; code: string } => {
    const err = publicError(e, log);
    return { error: new GrpcStatusError(GRPC_STATUS[err.code], err.message, { 'pitstop-reason': err.reason }), code: err.code };
  };
  const server = new GrpcH2Server({
    maxMessageBytes,
    log,
    transport: options.transport,
    connections: options.connections,
    tooLarge: (bytes, path) => {
      const f = failure(new PitstopError('LIMIT_EXCEEDED', `the request has ${bytes} bytes; the limit is ${maxMessageBytes}`));
      const method = nameOf.get(path);
      if (method) observe(method, 0, f.code, '');
      return f.error;
    },
  });

  /**
   * A method over bytes, observed for metrics: `run` decodes and answers; its failures become
   * gRPC statuses with the machine reason in the `pitstop-reason` trailer.
   */
  const add = (method: string, run: (request: Buffer, ctx: CallContext, labelOut: { label: string }) => Promise<Buffer | { framed: Buffer }>) => {
    server.addUnary(methods[method].path, async (request, ctx) => {
      const started = performance.now();
      const meta = { label: '' };
      try {
        const answer = await run(request, ctx, meta);
        observe(method, (performance.now() - started) / 1000, 'OK', meta.label);
        return answer;
      } catch (e) {
        const f = failure(e);
        observe(method, (performance.now() - started) / 1000, f.code, meta.label);
        throw f.error;
      }
    });
  };

  add('GetOnlineFeatures', async (bytes, ctx, meta) => {
    const req = decodeGetOnlineFeaturesRequest(bytes);
    meta.label = safeLabel(() => service.serviceLabel(req.featureService));
    return { framed: encodeResponse(await service.getOnlineFeatures(req, ctx.cancel), undefined, PREFIX_BYTES) };
  });
  const push = methods.Push;
  add('Push', async (bytes) => {
    const req = decodeWith<any>('Push', push.requestDeserialize, bytes);
    const r = await service.push(req.feature_view ?? '', columnsToJs(req.columns), { toOffline: req.to_offline === true });
    return push.responseSerialize({ written: String(r.written), stale: String(r.stale), offline_rows: String(r.offlineRows) });
  });
  const list = methods.ListFeatureServices;
  add('ListFeatureServices', async () => list.responseSerialize(service.listFeatureServices()));

  const health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server as unknown as Parameters<HealthImplementation['addToServer']>[0]);
  new ReflectionService(servingPackageDefinition()).addToServer(server as unknown as Parameters<ReflectionService['addToServer']>[0]);
  return { server, health };
}

function safeLabel(f: () => string): string {
  try {
    return f();
  } catch {
    return '';
  }
}
