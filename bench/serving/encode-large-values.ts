/**
 * The gRPC response encoder on values of 32 bytes or more (strings, lists; embeddings are alike),
 * which it copies through DataViews (src/core/copy-bytes.ts) rather than Buffer#copy: CPU per
 * answer of 100 entities x (a 50-byte string + a list of 8 strings), in process, three rounds.
 *   node --import tsx bench/serving/encode-large-values.ts
 * 2026-12-06, quiet Intel VM: Buffer#copy 15.7-16.3 µs; DataViews 12.8-13.9 µs.
 */
import { getOnlineFeatures } from '../../src/serving/get-online-features.ts';
import { compileSnapshot } from '../../src/serving/plan.ts';
import { encodeResponse, ResponseScratch } from '../../src/serving/response-encoder.ts';
import { packRows, viewStorageId, type OnlineReadBatch } from '../../src/online/ports.ts';
import { lookupView } from '../../src/registry/resolve.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';
import { NOW, servingSnapshot } from '../../test/serving/fixture.ts';
const snapshot = servingSnapshot();
const v = lookupView(snapshot, 'driver_profile');
const enc = new RowEncoder(v.features);
const keys = new EntityKeyEncoder(v.joinKeys);
const rows = new Map<string, Buffer>();
const ids = Array.from({ length: 100 }, (_, i) => i);
for (const id of ids) rows.set(`${viewStorageId(v.name, v.version)}|${Buffer.from(keys.encodeRecord({ driver_id: id })).toString('hex')}`, Buffer.from(enc.encode(NOW - 1000, null, [`vehicle-${'x'.repeat(40)}-${id}`, 4, Array.from({ length: 8 }, (_, t) => `tag${t}-${id}`)])));
const readRows = async (b: OnlineReadBatch) => b.views.map((vv, j) => b.entityKeys[j].toArray().map((k) => rows.get(`${vv}|${k.toString('hex')}`) ?? null));
const reader = { readRows, readSpans: async (b: OnlineReadBatch, spans: Int32Array) => packRows(await readRows(b), spans), async ping() {}, async close() {} };
const r = await getOnlineFeatures(compileSnapshot(snapshot), reader as any, { features: ['driver_profile:vehicle', 'driver_profile:tags'], entities: { driver_id: ids } }, { limits: { maxEntities: 1000, maxFeatures: 1000 }, now: NOW });
const scratch = { buf: Buffer.allocUnsafeSlow(1 << 16) } as ResponseScratch;
for (let i = 0; i < 5000; i++) encodeResponse(r, scratch);
for (let round = 0; round < 3; round++) {
  const t = performance.now();
  const N = 50000;
  for (let i = 0; i < N; i++) encodeResponse(r, scratch);
  console.log(`encodeResponse 100 entities x (a 50-byte string + a list of 8 strings): ${(((performance.now() - t) / N) * 1000).toFixed(2)} µs`);
}
