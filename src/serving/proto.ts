/**
 * The serving proto, loaded once with ONE options object shared by the server, the client, the
 * reflection service and any code generation, so all of them agree on field names, enums and
 * 64-bit integers.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

/** Root of the .proto tree (imports are relative to it). */
export const PROTO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto');
export const SERVING_PROTO = 'pitstop/serving/v1/serving.proto';
export const SERVICE_NAME = 'pitstop.serving.v1.ServingService';

/**
 * The values of the request's `event_timestamps` (proto enum `EventTimestamps`), by number, as
 * HTTP/JSON and the typed client name them.
 */
export const EVENT_TIMESTAMPS_NAMES = ['per_feature', 'per_view', 'none'] as const;

/**
 * proto-loader options. `longs: String` keeps int64 join keys exact (a JS number is not);
 * `enums: String` gives status names; `oneofs: true` exposes which `Value` field is set.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
});

let cached: protoLoader.PackageDefinition | undefined;

/** The package definition of the serving proto (and the Value proto it imports), loaded once. */
export function servingPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(SERVING_PROTO, PROTO_LOADER_OPTIONS);
  return cached;
}

/** The method definitions of ServingService, keyed by method name. */
export function servingMethods(): protoLoader.ServiceDefinition {
  return servingPackageDefinition()[SERVICE_NAME] as protoLoader.ServiceDefinition;
}
