/**
 * A typed TypeScript client for pitstop's gRPC ServingService (plus the standard health check).
 * Used by the tests and the benchmark suite.
 *
 * ```ts
 * const client = new PitstopClient('127.0.0.1:6566');
 * const r = await client.getOnlineFeatures({ featureService: 'driver_ranking', entities: { driver_id: [1001, 1002] } });
 * r.column('trips_today').values; // [12n, null]
 * client.close();
 * ```
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { EVENT_TIMESTAMPS_NAMES, PROTO_LOADER_OPTIONS, SERVICE_NAME, servingMethods } from '../serving/proto.ts';
import { decodeOnlineFeatures, type EventTimestampsName, type OnlineFeatures } from './response-decoder.ts';

export type { OnlineFeatures, FeatureColumn, FieldStatus, EventTimestampsName } from './response-decoder.ts';

export interface GetOnlineFeaturesInput {
  /** Feature references `view[@version]:feature` (or give featureService). */
  features?: readonly string[];
  featureService?: string;
  /** Join key → one value per entity row: number/bigint (int64_val), string (string_val), Buffer (bytes_val). */
  entities: Readonly<Record<string, readonly unknown[]>>;
  fullFeatureNames?: boolean;
  /**
   * How the server sends event timestamps: 'per_view' (this client's default) sends each view's
   * once and the client copies them into every column of the view, so `eventTimestampsMs` reads
   * the same as with 'per_feature' (Feast's shape, the server's default) for fewer bytes on the
   * wire; 'none' leaves them out (`eventTimestampsMs` empty).
   */
  eventTimestamps?: EventTimestampsName;
}

export interface CallOptions {
  /** Deadline relative to now, in ms; default 5000. */
  timeoutMs?: number;
}

export interface PushResult {
  written: number;
  stale: number;
  /** Rows appended to the offline push log (0 unless `toOffline`). */
  offlineRows: number;
}

export interface FeatureServiceListing {
  registry_version: string;
  registry_hash: string;
  services: { name: string; description: string; features: { ref: string; view: string; version: number; name: string; type: string }[] }[];
}

/** A gRPC error with pitstop's machine reason (from the `pitstop-reason` trailer). */
export interface PitstopCallError extends grpc.ServiceError {
  reason?: string;
}

/** A JS value → a `pitstop.types.v1.Value` message for proto-loader. */
export function toValueMessage(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (typeof v === 'bigint') return { int64_val: v.toString() };
  if (typeof v === 'number') return Number.isInteger(v) ? { int64_val: String(v) } : { double_val: v };
  if (typeof v === 'string') return { string_val: v };
  if (typeof v === 'boolean') return { bool_val: v };
  if (v instanceof Uint8Array) return { bytes_val: Buffer.from(v) };
  if (v instanceof Date) return { unix_timestamp_ms_val: String(v.getTime()) };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { string_list_val: { val: v } };
    if (v.every((x) => typeof x === 'number' && !Number.isInteger(x))) return { double_list_val: { val: v } };
    if (v.every((x) => typeof x === 'boolean')) return { bool_list_val: { val: v } };
    return { int64_list_val: { val: v.map(String) } };
  }
  throw new TypeError(`cannot send ${typeof v} as a Value`);
}

function columns(entities: Readonly<Record<string, readonly unknown[]>>): Record<string, { val: Record<string, unknown>[] }> {
  const out: Record<string, { val: Record<string, unknown>[] }> = {};
  for (const [k, vs] of Object.entries(entities)) out[k] = { val: vs.map(toValueMessage) };
  return out;
}

function eventTimestampsOf(input: GetOnlineFeaturesInput): EventTimestampsName {
  const mode = input.eventTimestamps ?? 'per_view';
  if (!EVENT_TIMESTAMPS_NAMES.includes(mode)) throw new TypeError(`eventTimestamps must be 'per_feature', 'per_view' or 'none', got ${JSON.stringify(mode)}`);
  return mode;
}

export class PitstopClient {
  private readonly client: grpc.Client;
  private readonly methods = servingMethods();
  private healthMethod?: protoLoader.MethodDefinition<any, any>;

  /** No I/O: connects lazily on the first call. */
  constructor(address: string, options: grpc.ClientOptions = {}) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, ...options });
  }

  private call<Req, Res>(m: protoLoader.MethodDefinition<Req, any>, req: Req, options: CallOptions, decode: (b: Buffer) => Res): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        decode,
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + (options.timeoutMs ?? 5000) },
        (err: grpc.ServiceError | null, res?: Res) => {
          if (err) {
            const reason = err.metadata?.get('pitstop-reason')[0];
            (err as PitstopCallError).reason = reason === undefined ? undefined : String(reason);
            reject(err);
          } else resolve(res!);
        },
      );
    });
  }

  /** The request message for `input` (bench clients serialize it once and reuse it). */
  static requestMessage(input: GetOnlineFeaturesInput): Record<string, unknown> {
    return {
      ...(input.featureService ? { feature_service: input.featureService } : { features: { val: input.features ?? [] } }),
      entities: columns(input.entities),
      full_feature_names: input.fullFeatureNames === true,
      // The enum's number (proto-loader takes numbers for enums): the names are in its order.
      event_timestamps: EVENT_TIMESTAMPS_NAMES.indexOf(eventTimestampsOf(input)),
    };
  }

  getOnlineFeatures(input: GetOnlineFeaturesInput, options: CallOptions = {}): Promise<OnlineFeatures> {
    const mode = eventTimestampsOf(input);
    return this.call(this.methods.GetOnlineFeatures, PitstopClient.requestMessage(input), options, (b) => decodeOnlineFeatures(b, mode));
  }

  /** The undecoded response bytes (load generators skip decoding). */
  getOnlineFeaturesRaw(input: GetOnlineFeaturesInput, options: CallOptions = {}): Promise<Buffer> {
    return this.call(this.methods.GetOnlineFeatures, PitstopClient.requestMessage(input), options, (b) => b);
  }

  /**
   * Push rows of one view, column-wise (join keys, `event_timestamp`, features); `toOffline` also
   * appends them to the offline push log (before the online write).
   */
  async push(featureView: string, cols: Readonly<Record<string, readonly unknown[]>>, options: CallOptions & { toOffline?: boolean } = {}): Promise<PushResult> {
    const message = { feature_view: featureView, columns: columns(cols), to_offline: options.toOffline === true };
    const r = await this.call(this.methods.Push, message, options, (b) => this.methods.Push.responseDeserialize(b) as { written?: string; stale?: string; offline_rows?: string });
    return { written: Number(r.written ?? 0), stale: Number(r.stale ?? 0), offlineRows: Number(r.offline_rows ?? 0) };
  }

  listFeatureServices(options: CallOptions = {}): Promise<FeatureServiceListing> {
    return this.call(this.methods.ListFeatureServices, {}, options, (b) => this.methods.ListFeatureServices.responseDeserialize(b) as FeatureServiceListing);
  }

  /** Standard gRPC health check: SERVING, NOT_SERVING or UNKNOWN for `service` ('' = the server). */
  async health(service = SERVICE_NAME, options: CallOptions = {}): Promise<string> {
    if (!this.healthMethod) {
      const def = protoLoader.loadSync(healthProtoPath, PROTO_LOADER_OPTIONS);
      this.healthMethod = (def['grpc.health.v1.Health'] as protoLoader.ServiceDefinition).Check;
    }
    const r = await this.call(this.healthMethod, { service }, options, this.healthMethod.responseDeserialize);
    return String(r.status);
  }

  close(): void {
    this.client.close();
  }
}
