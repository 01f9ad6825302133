/**
 * The gRPC transport: ServingService on grpc-js plus the standard health service and server
 * reflection. Thin: decode → ServingService → encode. GetOnlineFeatures bypasses protobufjs both
 * ways: `decodeGetOnlineFeaturesRequest` reads the request into plain columns and
 * `encodeResponse` writes the answer with the stored Value bytes spliced in.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { PitstopError } from '../core/errors.ts';
import { unary } from './grpc-adapter.ts';
import type { ServingMetrics } from './metrics.ts';
import { SERVICE_NAME, servingMethods, servingPackageDefinition } from './proto.ts';
import { ResponseScratch, encodeResponse } from './response-encoder.ts';
import type { OnlineFeaturesRequest } from './get-online-features.ts';
import { decodeGetOnlineFeaturesRequest } from './request-decoder.ts';
import type { OnlineFeaturesResult } from './result.ts';
import type { ServingService } from './service.ts';

export interface GrpcServerOptions {
  log: (line: string) => void;
  metrics: ServingMetrics;
  /** Requests above this many bytes fail INVALID_ARGUMENT (LIMIT_EXCEEDED). */
  maxMessageBytes: number;
}

/** A request too large to decode: the handler turns it into LIMIT_EXCEEDED. */
interface TooLarge {
  tooLargeBytes: number;
}

/** A request that failed to decode: the handler rethrows the error (grpc-js would say INTERNAL). */
interface Undecodable {
  decodeError: unknown;
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

function checkSize(req: unknown, max: number): void {
  const size = (req as TooLarge).tooLargeBytes;
  if (size !== undefined) throw new PitstopError('LIMIT_EXCEEDED', `the request has ${size} bytes; the limit is ${max}`);
}

export function createGrpcServer(service: ServingService, options: GrpcServerOptions): { server: grpc.Server; health: HealthImplementation } {
  const { metrics, log, maxMessageBytes } = options;
  // Let requests up to twice the limit through so they get our INVALID_ARGUMENT answer; beyond
  // that grpc-js itself answers RESOURCE_EXHAUSTED without reading them.
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes * 2 + 1024,
    'grpc.max_send_message_length': -1,
    // No channelz (pitstop does not serve it): with it on, grpc-js builds call and session
    // trackers (objects and closures) for every call.
    'grpc.enable_channelz': 0,
  });
  const methods = servingMethods();
  const definition: Record<string, grpc.MethodDefinition<any, any>> = {};
  for (const [name, m] of Object.entries(methods)) {
    const decode = m.requestDeserialize;
    definition[name] = {
      ...m,
      requestDeserialize: (buf: Buffer) => (buf.length > maxMessageBytes ? ({ tooLargeBytes: buf.length } satisfies TooLarge) : decode(buf)),
    };
  }
  // GetOnlineFeatures: bytes → OnlineFeaturesRequest directly, and the result → bytes directly.
  definition.GetOnlineFeatures.requestDeserialize = (buf: Buffer) => {
    if (buf.length > maxMessageBytes) return { tooLargeBytes: buf.length } satisfies TooLarge;
    try {
      return decodeGetOnlineFeaturesRequest(buf);
    } catch (e) {
      return { decodeError: e } satisfies Undecodable;
    }
  };
  // One scratch buffer for every response of this server: grpc-js copies the serialized bytes
  // into its own framed message before it serializes another (server-interceptors
  // serializeMessage), so the next response may reuse it. Guarded by the concurrent-answers test
  // in test/serving/lookups.test.ts.
  const scratch = new ResponseScratch();
  definition.GetOnlineFeatures.responseSerialize = (r: OnlineFeaturesResult) => encodeResponse(r, scratch);

  const observe = (method: string, seconds: number, code: string, label: string) => metrics.observe('grpc', method, seconds, code, label);
  server.addService(definition as grpc.ServiceDefinition, {
    GetOnlineFeatures: unary(
      'GetOnlineFeatures',
      async (req: OnlineFeaturesRequest | TooLarge | Undecodable, ctx) => {
        checkSize(req, maxMessageBytes);
        if ('decodeError' in req) throw req.decodeError;
        return service.getOnlineFeatures(req as OnlineFeaturesRequest, ctx.cancel);
      },
      { log, observe, label: (req: OnlineFeaturesRequest) => service.serviceLabel(req.featureService) },
    ),
    Push: unary(
      'Push',
      async (req: any) => {
        checkSize(req, maxMessageBytes);
        const r = await service.push(req.feature_view ?? '', columnsToJs(req.columns), { toOffline: req.to_offline === true });
        return { written: String(r.written), stale: String(r.stale), offline_rows: String(r.offlineRows) };
      },
      { log, observe },
    ),
    ListFeatureServices: unary('ListFeatureServices', async () => service.listFeatureServices(), { log, observe }),
  });

  const health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  new ReflectionService(servingPackageDefinition()).addToServer(server);
  return { server, health };
}
