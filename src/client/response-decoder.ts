/**
 * Decodes GetOnlineFeaturesResponse bytes into columns without protobufjs objects: values through
 * the Value codec, statuses and timestamps from their packed fields.
 */
import { decodeValue, type FeatureValue } from '../online/value-codec.ts';
import type { EVENT_TIMESTAMPS_NAMES } from '../serving/proto.ts';

/** How the answer carries event timestamps (the request's `event_timestamps`, by name). */
export type EventTimestampsName = (typeof EVENT_TIMESTAMPS_NAMES)[number];

export const FIELD_STATUS = ['INVALID', 'PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'] as const;
export type FieldStatus = (typeof FIELD_STATUS)[number];

export interface FeatureColumn {
  /** One value per entity row (int64 as bigint, bytes as Buffer, timestamps as epoch ms, null when absent). */
  values: FeatureValue[];
  statuses: FieldStatus[];
  /**
   * Event time of each value in epoch ms (0 when NOT_FOUND); empty when the request asked for
   * `eventTimestamps: 'none'`.
   */
  eventTimestampsMs: number[];
}

export interface OnlineFeatures {
  featureNames: string[];
  registryVersion: number;
  /** Columns in the order of featureNames. */
  results: FeatureColumn[];
  /** Column by feature name. */
  column(name: string): FeatureColumn;
}

class Cursor {
  constructor(readonly b: Buffer, public pos: number) {}
  varint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const byte = this.b[this.pos++];
      if (byte === undefined) throw new Error('truncated GetOnlineFeaturesResponse');
      result += (byte & 127) * mul;
      if (byte < 128) return result;
      mul *= 128;
    }
  }
  /** Reads a length and returns where that many bytes from here end. */
  lenEnd(): number {
    const len = this.varint();
    return this.pos + len;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.pos += this.varint();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

/**
 * `eventTimestamps` is what the request asked for: with 'per_view', a vector without its own
 * event times takes a copy of those of the vector its `event_timestamps_from` names.
 */
export function decodeOnlineFeatures(buf: Buffer, eventTimestamps: EventTimestampsName = 'per_feature'): OnlineFeatures {
  const c = new Cursor(buf, 0);
  const featureNames: string[] = [];
  let registryVersion = 0;
  const results: FeatureColumn[] = [];
  const from: number[] = [];
  while (c.pos < buf.length) {
    const key = c.varint();
    const field = key >>> 3;
    if (field === 1 && (key & 7) === 2) {
      const end = c.lenEnd();
      while (c.pos < end) {
        const k = c.varint();
        if (k === 0x0a) {
          const listEnd = c.lenEnd();
          while (c.pos < listEnd) {
            c.varint(); // tag of `val`
            const len = c.varint();
            featureNames.push(buf.toString('utf8', c.pos, c.pos + len));
            c.pos += len;
          }
        } else if (k === 0x10) registryVersion = c.varint();
        else c.skip(k & 7);
      }
    } else if (field === 2 && (key & 7) === 2) {
      const end = c.lenEnd();
      const col: FeatureColumn = { values: [], statuses: [], eventTimestampsMs: [] };
      while (c.pos < end) {
        const k = c.varint();
        if (k === 0x0a) {
          const len = c.varint();
          col.values.push(decodeValue(buf, c.pos, c.pos + len));
          c.pos += len;
        } else if (k === 0x12) {
          const runEnd = c.lenEnd();
          while (c.pos < runEnd) col.statuses.push(FIELD_STATUS[c.varint()] ?? 'INVALID');
        } else if (k === 0x22) {
          const runEnd = c.lenEnd();
          while (c.pos < runEnd) col.eventTimestampsMs.push(c.varint());
        } else if (k === 0x28) from[results.length] = c.varint();
        else c.skip(k & 7);
      }
      results.push(col);
    } else c.skip(key & 7);
  }
  if (eventTimestamps === 'per_view') {
    results.forEach((col, f) => {
      if (col.eventTimestampsMs.length > 0 || col.values.length === 0) return;
      const src = results[from[f] ?? 0];
      if (src === undefined || (from[f] ?? 0) >= f || src.eventTimestampsMs.length !== col.values.length) {
        throw new Error(`GetOnlineFeaturesResponse: results[${f}] has no event times and event_timestamps_from ${from[f] ?? 0} names no earlier vector that has them`);
      }
      col.eventTimestampsMs = src.eventTimestampsMs.slice();
    });
  }
  return {
    featureNames,
    registryVersion,
    results,
    column(name: string): FeatureColumn {
      const i = featureNames.indexOf(name);
      if (i < 0) throw new Error(`no feature "${name}" in the response (have: ${featureNames.join(', ')})`);
      return results[i];
    },
  };
}
