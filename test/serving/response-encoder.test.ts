/**
 * The hand-written response encoder against protobufjs (the proto-loader deserializer decodes
 * what we spliced), and the client's direct decoder against both.
 */
import { describe, expect, it } from 'vitest';
import { packRows, viewStorageId, type OnlineReader, type OnlineReadBatch } from '../../src/online/ports.ts';
import { getOnlineFeatures } from '../../src/serving/get-online-features.ts';
import { EVENT_TIMESTAMPS, type EventTimestampsMode } from '../../src/serving/result.ts';
import { compileSnapshot } from '../../src/serving/plan.ts';
import { encodeResponse } from '../../src/serving/response-encoder.ts';
import { servingMethods } from '../../src/serving/proto.ts';
import { decodeOnlineFeatures } from '../../src/client/response-decoder.ts';
import { HOUR, NOW, servingRows, servingSnapshot } from './fixture.ts';
import { lookupView } from '../../src/registry/resolve.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';

/** The port's contract over a Map: enough for the pure encoder tests (adapters have their own suites). */
function mapReader(rows: Map<string, Buffer>): OnlineReader {
  const readRows = async (batch: OnlineReadBatch) => batch.views.map((v, j) => batch.entityKeys[j].toArray().map((k) => rows.get(`${v}|${k.toString("hex")}`) ?? null));
  return {
    readRows,
    readSpans: async (batch, spans) => packRows(await readRows(batch), spans),
    async ping() {},
    async close() {},
  };
}

describe('response encoder', () => {
  const snapshot = servingSnapshot();
  const rows = new Map(servingRows(snapshot).map((w) => [`${w.view}|${w.entity.toString('hex')}`, w.row]));
  const limits = { maxEntities: 100, maxFeatures: 100 };

  it('writes bytes protobufjs decodes to the same columns, with all four statuses', async () => {
    const r = await getOnlineFeatures(compileSnapshot(snapshot), mapReader(rows), {
      features: ['driver_stats:trips_today', 'driver_stats:rating', 'driver_profile:vehicle', 'driver_profile:tags'],
      entities: { driver_id: [1, 2, 3] },
    }, { limits, now: NOW });
    const bytes = encodeResponse(r);
    const viaProtobufjs = servingMethods().GetOnlineFeatures.responseDeserialize(bytes) as any;
    expect(viaProtobufjs.metadata.feature_names.val).toEqual(['trips_today', 'rating', 'vehicle', 'tags']);
    expect(viaProtobufjs.metadata.registry_version).toBe('1');
    const trips = viaProtobufjs.results[0];
    expect(trips.values.map((v: any) => v.int64_val ?? null)).toEqual(['12', '7', null]);
    expect(trips.statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(trips.event_timestamps_ms.map(Number)).toEqual([NOW - 60_000, NOW - 3 * 3_600_000, 0]);
    expect(viaProtobufjs.results[1].statuses).toEqual(['PRESENT', 'NULL_VALUE', 'NOT_FOUND']);
    expect(viaProtobufjs.results[3].values[0].string_list_val.val).toEqual(['a', 'b']);

    const direct = decodeOnlineFeatures(bytes);
    expect(direct.featureNames).toEqual(['trips_today', 'rating', 'vehicle', 'tags']);
    expect(direct.column('trips_today').values).toEqual([12n, 7n, null]);
    expect(direct.column('rating').values).toEqual([4.5, null, null]);
    expect(direct.column('vehicle').statuses).toEqual(['PRESENT', 'NOT_FOUND', 'NOT_FOUND']);
    expect(direct.column('tags').values[0]).toEqual(['a', 'b']);
  });

  it('writes event times once per view (later vectors name the first) or not at all, as asked', async () => {
    const features = ['driver_stats:trips_today', 'driver_profile:vehicle', 'driver_stats:rating', 'driver_profile:tags'];
    const lookup = async (eventTimestamps: EventTimestampsMode) =>
      encodeResponse(await getOnlineFeatures(compileSnapshot(snapshot), mapReader(rows), { features, entities: { driver_id: [1, 2, 3] }, eventTimestamps }, { limits, now: NOW }));
    const perFeature = await lookup(EVENT_TIMESTAMPS.PER_FEATURE);
    const perView = await lookup(EVENT_TIMESTAMPS.PER_VIEW);
    const none = await lookup(EVENT_TIMESTAMPS.NONE);
    expect(perView.length).toBeLessThan(perFeature.length);
    expect(none.length).toBeLessThan(perView.length);

    const pb = (b: Buffer) => (servingMethods().GetOnlineFeatures.responseDeserialize(b) as any).results;
    const full = pb(perFeature);
    const viewTimes = [full[0].event_timestamps_ms.map(Number), full[1].event_timestamps_ms.map(Number)];
    expect(viewTimes[0]).toEqual([NOW - 60_000, NOW - 3 * 3_600_000, 0]);
    expect(full[2].event_timestamps_ms.map(Number)).toEqual(viewTimes[0]);
    expect(full[3].event_timestamps_ms.map(Number)).toEqual(viewTimes[1]);
    // driver_stats is vectors 0 and 2, driver_profile 1 and 3.
    const compact = pb(perView);
    expect(compact.map((v: any) => (v.event_timestamps_ms ?? []).map(Number))).toEqual([viewTimes[0], viewTimes[1], [], []]);
    expect(compact.map((v: any) => v.event_timestamps_from ?? 0)).toEqual([0, 0, 0, 1]);
    expect(compact.map((v: any) => v.statuses)).toEqual(full.map((v: any) => v.statuses));
    expect(compact.map((v: any) => v.values)).toEqual(full.map((v: any) => v.values));
    const bare = pb(none);
    expect(bare.map((v: any) => v.event_timestamps_ms ?? [])).toEqual([[], [], [], []]);
    expect(bare.map((v: any) => v.values)).toEqual(full.map((v: any) => v.values));

    // The client's decoder gives the same columns from the compact answer.
    const a = decodeOnlineFeatures(perFeature);
    const b = decodeOnlineFeatures(perView, 'per_view');
    expect(b.results).toEqual(a.results);
    expect(b.column('tags').eventTimestampsMs).not.toBe(b.column('vehicle').eventTimestampsMs);
    expect(decodeOnlineFeatures(none, 'none').results.map((c) => c.eventTimestampsMs)).toEqual([[], [], [], []]);
    // Read as per_view, an answer whose pointer names no earlier vector with event times is refused.
    expect(() => decodeOnlineFeatures(none, 'per_view')).toThrow(/results\[0\] has no event times and event_timestamps_from 0 names no earlier vector/);
  });

  it("hands each view's ttl to the reader with the read (a caching reader needs it)", async () => {
    let seen: readonly number[] | undefined;
    const inner = mapReader(rows);
    const reader: OnlineReader = { ...inner, readSpans: async (batch, spans) => ((seen = batch.ttlMs), inner.readSpans(batch, spans)) };
    await getOnlineFeatures(compileSnapshot(snapshot), reader, { features: ['driver_stats:trips_today', 'driver_profile:vehicle'], entities: { driver_id: [1] } }, { limits, now: NOW });
    expect(seen).toEqual([2 * HOUR, 0]);
  });

  it('encodes an empty entity list', async () => {
    const r = await getOnlineFeatures(compileSnapshot(snapshot), mapReader(rows), { features: ['driver_stats:trips_today'], entities: { driver_id: [] } }, { limits, now: NOW });
    const decoded = servingMethods().GetOnlineFeatures.responseDeserialize(encodeResponse(r)) as any;
    expect(decoded.results).toHaveLength(1);
    expect(decoded.results[0].values ?? []).toEqual([]);
  });

  it('encodes large values (31 to 2,000 bytes: both copy paths, multi-byte lengths) byte for byte', async () => {
    const v = lookupView(snapshot, 'driver_profile');
    const enc = new RowEncoder(v.features);
    const keys = new EntityKeyEncoder(v.joinKeys);
    const big = new Map(rows);
    // Strings of every length around the copy thresholds (32 bytes, 4-byte steps) and the
    // one-byte length limit (127), and a long list: driver ids 10.. get one each.
    const lengths = [29, 30, 31, 32, 33, 34, 35, 36, 37, 63, 64, 65, 125, 126, 127, 128, 129, 1999];
    const ids = lengths.map((_, i) => 10 + i);
    lengths.forEach((len, i) => {
      const text = Array.from({ length: len }, (_, c) => String.fromCharCode(97 + ((c * 7 + i) % 26))).join('');
      const tags = Array.from({ length: 1 + (len % 9) * 7 }, (_, t) => `${text.slice(0, 1 + (t % 40))}#${t}`);
      big.set(`${viewStorageId(v.name, v.version)}|${Buffer.from(keys.encodeRecord({ driver_id: ids[i] })).toString('hex')}`, Buffer.from(enc.encode(NOW - 1000, null, [text, len, tags])));
    });
    const r = await getOnlineFeatures(compileSnapshot(snapshot), mapReader(big), { features: ['driver_profile:vehicle', 'driver_profile:tags', 'driver_profile:seats'], entities: { driver_id: ids } }, { limits, now: NOW });
    const bytes = encodeResponse(r);
    const decoded = servingMethods().GetOnlineFeatures.responseDeserialize(bytes) as any;
    const direct = decodeOnlineFeatures(bytes);
    lengths.forEach((len, i) => {
      const text = Array.from({ length: len }, (_, c) => String.fromCharCode(97 + ((c * 7 + i) % 26))).join('');
      const tags = Array.from({ length: 1 + (len % 9) * 7 }, (_, t) => `${text.slice(0, 1 + (t % 40))}#${t}`);
      expect(decoded.results[0].values[i].string_val).toBe(text);
      expect(decoded.results[1].values[i].string_list_val.val).toEqual(tags);
      expect(decoded.results[2].values[i].int32_val).toBe(len);
      expect(direct.column('vehicle').values[i]).toBe(text);
      expect(direct.column('tags').values[i]).toEqual(tags);
    });
    expect(direct.column('vehicle').statuses).toEqual(lengths.map(() => 'PRESENT'));
    // The view's packed event times (18 x 6 bytes: copied, not rewritten, into later vectors).
    for (const vec of decoded.results) expect(vec.event_timestamps_ms.map(Number)).toEqual(ids.map(() => NOW - 1000));
  });
});
