/**
 * pitstop's own gRPC GetOnlineFeatures handler path, in process, for alloc.ts and handler-cpu.ts:
 * the steps a call runs in pitstop's code (src/serving/grpc-server.ts): the direct request
 * decoder, the lookup with the Redis adapter, the response encoder and metrics; the gRPC framing
 * (grpc-h2.ts) and node:http2 left out.
 */
import type { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { PitstopServer } from '../../src/serving/server.ts';
import { SnapshotHolder } from '../../src/serving/snapshot-holder.ts';
import { decodeGetOnlineFeaturesRequest } from '../../src/serving/request-decoder.ts';
import { encodeResponse } from '../../src/serving/response-encoder.ts';
import { servingMethods } from '../../src/serving/proto.ts';
import { PitstopClient } from '../../src/client/client.ts';
import { Cancellation } from '../../src/serving/cancellation.ts';
import { ENTITIES, benchSnapshot } from './fixture.ts';

/** The measured shapes: entities per request, feature service. */
export const HANDLER_SCENARIOS = [
  [1, 'fs_50'],
  [1, 'fs_250'],
  [100, 'fs_50'],
  [500, 'fs_10'],
] as const;

/** 64 serialized requests of `entities` ids each (a fixed spread over the bench entities). */
export function handlerRequests(entities: number, featureService: string): Buffer[] {
  const m = servingMethods().GetOnlineFeatures;
  return Array.from({ length: 64 }, (_, r) =>
    m.requestSerialize(PitstopClient.requestMessage({ featureService, entities: { driver_id: Array.from({ length: entities }, (_, i) => (r * 7919 + i * 104729) % ENTITIES) } })),
  );
}

/** One call's handler path over `store` (bench rows already written); resolves with the answer's size. */
export function handlerPath(store: RedisOnlineStore): (request: Buffer) => Promise<number> {
  const server = new PitstopServer({ holder: SnapshotHolder.fixed(benchSnapshot(), { log: () => {} }), reader: store, grpcPort: -1, httpPort: -1, limits: { maxEntities: 1000, maxFeatures: 1000, maxMessageBytes: 8 << 20 }, log: () => {} });
  const { service, metrics } = server;
  return async (buf: Buffer) => {
    const started = performance.now();
    const req = decodeGetOnlineFeaturesRequest(buf);
    const res = await service.getOnlineFeatures(req, new Cancellation());
    const bytes = encodeResponse(res, undefined, 5);
    metrics.observe('grpc', 'GetOnlineFeatures', (performance.now() - started) / 1000, 'OK', service.serviceLabel(req.featureService));
    return bytes.length - 5;
  };
}
