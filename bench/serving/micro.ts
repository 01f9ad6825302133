/**
 * In-process micro-benchmark of the serving hot path without the network: getOnlineFeatures
 * (plan lookup, entity keys, row scan, statuses) plus the response encoder, against the same
 * response built as protobufjs objects and serialized through proto-loader (what a naive server
 * does), and the JSON writer against an object tree through JSON.stringify. Reads come from a Map holding real encoded rows, so only pitstop's CPU is measured.
 *   node --import tsx bench/serving/micro.ts
 */
import { packRows, type OnlineReader, type OnlineReadBatch } from '../../src/online/ports.ts';
import { getOnlineFeatures } from '../../src/serving/get-online-features.ts';
import { compileSnapshot } from '../../src/serving/plan.ts';
import { encodeResponse } from '../../src/serving/response-encoder.ts';
import { servingMethods } from '../../src/serving/proto.ts';
import { decodeValue } from '../../src/online/value-codec.ts';
import { encodeJsonResponse } from '../../src/serving/json-encoder.ts';
import { referenceJson } from '../../test/support/json-reference.ts';
import { benchRows, benchSnapshot, ENTITIES } from './fixture.ts';

const rows = new Map<string, Buffer>();
for (const batch of benchRows(Date.now())) for (const w of batch) rows.set(`${w.view}|${w.entity.toString('hex')}`, Buffer.from(w.row));
const readRows = async (b: OnlineReadBatch) => b.views.map((v, j) => b.entityKeys[j].toArray().map((k) => rows.get(`${v}|${k.toString('hex')}`) ?? null));
const reader: OnlineReader = {
  readRows,
  readSpans: async (b, spans) => packRows(await readRows(b), spans),
  async ping() {},
  async close() {},
};
const served = compileSnapshot(benchSnapshot());
const limits = { maxEntities: 1000, maxFeatures: 1000 };
const serialize = servingMethods().GetOnlineFeatures.responseSerialize;

async function time(name: string, entities: number, service: string, iterations: number): Promise<void> {
  const ids = Array.from({ length: entities }, (_, i) => (i * 7919) % ENTITIES);
  const req = { featureService: service, entities: { driver_id: ids } };
  // The core timed alone: a reader that answers every call with the first call's rows (the
  // request never changes here), so the Map lookups of the fake reader above are not in it.
  let saved: { data: Buffer; spans: Int32Array } | undefined;
  const replay: OnlineReader = {
    ...reader,
    async readSpans(b, spans) {
      if (!saved) {
        const data = await reader.readSpans(b, spans);
        saved = { data, spans: spans.slice() };
      } else spans.set(saved.spans);
      return saved.data;
    },
  };
  const lookup = async () => getOnlineFeatures(served, replay, req, { limits });
  for (let i = 0; i < 200; i++) encodeResponse(await lookup());
  let t = performance.now();
  for (let i = 0; i < iterations; i++) await lookup();
  const core = (performance.now() - t) / iterations;
  const r = await lookup();
  t = performance.now();
  let bytes = 0;
  for (let i = 0; i < iterations; i++) bytes = encodeResponse(r).length;
  const splice = (performance.now() - t) / iterations;
  // The naive way: one Value object and one status per value, serialized by protobufjs.
  const naive = () => {
    const n = r.entityCount;
    const results = r.plan.featureNames.map((_, f) => {
      const v = r.plan.featureView[f];
      const values = [];
      const statuses = [];
      const ts = [];
      for (let i = 0; i < n; i++) {
        const k = f * n + i;
        const x = r.valueEnd[k] > r.valueStart[k] ? decodeValue(r.data, r.valueStart[k], r.valueEnd[k]) : null;
        values.push(x === null ? {} : { int64_val: String(x) });
        statuses.push(r.statuses[k]);
        ts.push(String(r.eventTsMs[v * n + i]));
      }
      return { values, statuses, event_timestamps_ms: ts };
    });
    return serialize({ metadata: { feature_names: { val: r.plan.featureNames }, registry_version: 1 }, results });
  };
  for (let i = 0; i < 50; i++) naive();
  t = performance.now();
  const naiveIters = Math.max(20, iterations / 10);
  for (let i = 0; i < naiveIters; i++) naive();
  const naiveMs = (performance.now() - t) / naiveIters;
  console.log(`${name.padEnd(7)} lookup core ${(core * 1000).toFixed(1)} µs, splice encoder ${(splice * 1000).toFixed(1)} µs (${bytes} B), protobufjs objects ${(naiveMs * 1000).toFixed(1)} µs`);

  // HTTP/JSON: the direct writer against an object tree of decoded values through JSON.stringify
  // (what the HTTP server did before the writer).
  const tree = () => Buffer.from(referenceJson(r));
  if (!tree().equals(encodeJsonResponse(r))) throw new Error(`${name}: the JSON writer and the object tree disagree`);
  const jsonIters = Math.max(50, iterations / 5);
  for (let i = 0; i < 50; i++) tree(), encodeJsonResponse(r);
  t = performance.now();
  for (let i = 0; i < jsonIters; i++) tree();
  const treeMs = (performance.now() - t) / jsonIters;
  t = performance.now();
  let jsonBytes = 0;
  for (let i = 0; i < jsonIters; i++) jsonBytes = encodeJsonResponse(r).length;
  const writerMs = (performance.now() - t) / jsonIters;
  console.log(`${''.padEnd(7)} JSON writer ${(writerMs * 1000).toFixed(1)} µs (${jsonBytes} B), object tree + JSON.stringify ${(treeMs * 1000).toFixed(1)} µs`);
}

await time('1x50', 1, 'fs_50', 20000);
await time('1x250', 1, 'fs_250', 5000);
await time('100x50', 100, 'fs_50', 1000);
await time('500x10', 500, 'fs_10', 1000);

// Request side: proto-loader decode + conversion to columns, against the direct decoder.
{
  const { PitstopClient } = await import('../../src/client/client.ts');
  const { decodeGetOnlineFeaturesRequest } = await import('../../src/serving/request-decoder.ts');
  const { valueToJs } = await import('../../src/serving/grpc-server.ts');
  const m = servingMethods().GetOnlineFeatures;
  for (const n of [1, 100, 500]) {
    const bytes = m.requestSerialize(PitstopClient.requestMessage({ featureService: 'fs_10', entities: { driver_id: Array.from({ length: n }, (_, i) => i * 7919) } }));
    const iters = n === 1 ? 20000 : 2000;
    const viaProtobufjs = () => (m.requestDeserialize(bytes) as any).entities.driver_id.val.map(valueToJs);
    for (let i = 0; i < 200; i++) viaProtobufjs(), decodeGetOnlineFeaturesRequest(bytes);
    let t = performance.now();
    for (let i = 0; i < iters; i++) viaProtobufjs();
    const a = (performance.now() - t) / iters;
    t = performance.now();
    for (let i = 0; i < iters; i++) decodeGetOnlineFeaturesRequest(bytes);
    const b = (performance.now() - t) / iters;
    console.log(`request ${String(n).padStart(3)} entities: protobufjs + conversion ${(a * 1000).toFixed(1)} µs, direct decoder ${(b * 1000).toFixed(1)} µs`);
  }
}
