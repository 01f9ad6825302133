/**
 * The floor: a bare grpc-js server answering the same GetOnlineFeatures request shape with the
 * same Redis reads (the same OnlineReader adapter, one readSpans per request, as pitstop) and
 * none of pitstop's logic: no plans, no statuses, no ttl, no metrics, no response assembly. The
 * answer is the buffer the rows were read into, as raw bytes (the stored rows with a 4-byte
 * length each). Whatever pitstop adds on top of this is its cost.
 *
 *   tsx bench/serving/floor-server.ts <port> <redis-url> <project> <views.json>
 * views.json maps a feature service name to its views' storage ids (all keyed by driver_id).
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { servingMethods } from '../../src/serving/proto.ts';

const [port, url, project, viewsFile] = process.argv.slice(2);
const views = JSON.parse(readFileSync(viewsFile, 'utf8')) as Record<string, string[]>;
const store = await RedisOnlineStore.create({ url, project });
const keys = new EntityKeyEncoder([{ name: 'driver_id', type: 'int64' }]);
const m = servingMethods().GetOnlineFeatures;

// Channelz off, as in pitstop's server (grpc-js otherwise tracks every call with extra objects).
const server = new grpc.Server({ 'grpc.max_receive_message_length': 8 << 20, 'grpc.enable_channelz': 0 });
server.addService(
  { GetOnlineFeatures: { ...m, responseSerialize: (data: Buffer) => data } } as grpc.ServiceDefinition,
  {
    GetOnlineFeatures: (call: grpc.ServerUnaryCall<any, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const req = call.request;
      const ids = views[req.feature_service] ?? [];
      const vals: any[] = req.entities?.driver_id?.val ?? [];
      const entityKeys = keys.encodeColumns([vals.map((v) => v.int64_val)], vals.length);
      const spans = new Int32Array(2 * ids.length * entityKeys.length);
      store.readSpans({ views: ids, entityKeys: ids.map(() => entityKeys) }, spans).then(
        (data) => callback(null, data),
        (e) => callback({ code: grpc.status.UNAVAILABLE, details: String(e) }),
      );
    },
  },
);
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => {
  if (e) throw e;
  process.stdout.write(`floor listening on ${p}\n`);
});
process.on('SIGTERM', () => {
  server.forceShutdown();
  void store.close().then(() => process.exit(0));
});
