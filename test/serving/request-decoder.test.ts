/**
 * The direct request decoder against proto-loader (protobufjs) on the same bytes: every Value kind
 * a join key can take, feature lists, services, full names, unknown fields, and bad bytes.
 */
import { describe, expect, it } from 'vitest';
import { PitstopClient } from '../../src/client/client.ts';
import { servingMethods } from '../../src/serving/proto.ts';
import { decodeGetOnlineFeaturesRequest } from '../../src/serving/request-decoder.ts';
import { valueToJs } from '../../src/serving/grpc-server.ts';

const m = servingMethods().GetOnlineFeatures;

function viaProtobufjs(bytes: Buffer) {
  const req = m.requestDeserialize(bytes) as any;
  const entities: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(req.entities ?? {})) entities[k] = ((v as any).val ?? []).map(valueToJs);
  return {
    featureService: req.kind === 'feature_service' ? req.feature_service : undefined,
    features: req.kind === 'features' ? (req.features?.val ?? []) : undefined,
    entities,
    fullFeatureNames: req.full_feature_names === true,
    eventTimestamps: ['EVENT_TIMESTAMPS_PER_FEATURE', 'EVENT_TIMESTAMPS_PER_VIEW', 'EVENT_TIMESTAMPS_NONE'].indexOf(req.event_timestamps ?? 'EVENT_TIMESTAMPS_PER_FEATURE'),
  };
}

describe('GetOnlineFeaturesRequest decoder', () => {
  const cases = {
    'int64 keys, small, large, negative': { features: ['a:b', 'a@2:c'], entities: { id: [0, 1, 127, 128, 2 ** 40, -1, -(2 ** 40), 2n ** 62n, -(2n ** 63n), 2 ** 53 - 1] } },
    // every varint length around the short path's edges (1-4 bytes) and past it
    'int64 keys at varint length edges': { features: ['a:b'], entities: { id: [2 ** 7 - 1, 2 ** 7, 2 ** 14 - 1, 2 ** 14, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 35 - 1] } },
    'string, bytes and null keys': { featureService: 'svc', entities: { s: ['', 'héllo', 'x'.repeat(300)], b: [Buffer.from([0, 1, 255]), Buffer.alloc(0), null] }, fullFeatureNames: true },
    'other value kinds': { features: ['v:f'], entities: { d: [1.5, true, new Date(1764300000000), [1, 2], ['a']] } },
    'no entities': { features: ['v:f'], entities: {} },
    'event timestamps per feature': { features: ['v:f'], entities: { id: [1] }, eventTimestamps: 'per_feature' },
    'event timestamps per view': { features: ['v:f'], entities: { id: [1] }, eventTimestamps: 'per_view' },
    'no event timestamps': { featureService: 'svc', entities: { id: [1] }, eventTimestamps: 'none' },
  };
  for (const [name, input] of Object.entries(cases)) {
    it(name, () => {
      const bytes = m.requestSerialize(PitstopClient.requestMessage(input as any));
      expect(decodeGetOnlineFeaturesRequest(bytes)).toEqual(viaProtobufjs(bytes));
    });
  }

  it('a join key column split over two value lists is merged, as protobuf merges a message given twice', () => {
    const value = (n: number) => [0x0a, 0x02, 0x20, n]; // val { int64_val: n }
    const list1 = [...value(1), ...value(2), 0x18, 0x07]; // and an unknown varint field 3, skipped
    const list2 = value(3);
    const entry = [0x0a, 0x02, 0x69, 0x64, 0x12, list1.length, ...list1, 0x12, list2.length, ...list2]; // key "id"
    const bytes = Buffer.from([0x0a, 0x01, 0x73, 0x1a, entry.length, ...entry]); // feature_service "s", entities
    expect(decodeGetOnlineFeaturesRequest(bytes)).toEqual({ featureService: 's', features: undefined, entities: { id: [1, 2, 3] }, fullFeatureNames: false, eventTimestamps: 0 });
  });

  it('refuses an event_timestamps number it does not know, naming the field and the number', () => {
    const bytes = m.requestSerialize(PitstopClient.requestMessage({ features: ['v:f'], entities: { id: [1] }, eventTimestamps: 'per_feature' }));
    expect(decodeGetOnlineFeaturesRequest(Buffer.concat([bytes, Buffer.from([0x28, 0x02])])).eventTimestamps).toBe(2);
    expect(() => decodeGetOnlineFeaturesRequest(Buffer.concat([bytes, Buffer.from([0x28, 0x03])]))).toThrow(/event_timestamps must be .* got 3/);
  });

  it('skips unknown fields and rejects truncated bytes with BAD_REQUEST', () => {
    const bytes = m.requestSerialize(PitstopClient.requestMessage({ features: ['v:f'], entities: { id: [1, 2] } }));
    const withUnknown = Buffer.concat([bytes, Buffer.from([0x78, 0x05, 0x82, 0x01, 0x02, 0x61, 0x62])]); // field 15 varint, field 16 bytes
    expect(decodeGetOnlineFeaturesRequest(withUnknown)).toEqual(viaProtobufjs(bytes));
    expect(() => decodeGetOnlineFeaturesRequest(bytes.subarray(0, bytes.length - 1))).toThrow(/malformed GetOnlineFeaturesRequest/);
    // a multi-byte entity id cut inside its varint, at each byte
    const big = m.requestSerialize(PitstopClient.requestMessage({ features: ['v:f'], entities: { id: [2 ** 27 + 5] } }));
    const at = big.indexOf(Buffer.from([0x85, 0x80, 0x80, 0x40])); // 2^27 + 5 as a varint
    expect(at).toBeGreaterThan(0);
    for (let cut = at + 1; cut < at + 4; cut++) {
      expect(() => decodeGetOnlineFeaturesRequest(big.subarray(0, cut))).toThrow(/malformed GetOnlineFeaturesRequest/);
    }
  });
});
