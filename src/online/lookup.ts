/**
 * A simple, allocation-unconcerned online lookup for tools (`pitstop online get`, tests):
 * resolved features + entity rows → per feature values (as JSON-friendly JS values), statuses
 * and event timestamps. The serving hot path uses the codecs and `fillStatuses` directly.
 */
import { PitstopError } from '../core/errors.ts';
import type { FeatureType } from '../core/feature-types.ts';
import type { JoinKey } from '../core/registry-model.ts';
import type { ResolvedRequest } from '../registry/resolve.ts';
import { EntityKeyEncoder, EntityKeyList } from './entity-key.ts';
import type { OnlineReader } from './ports.ts';
import { FIELD_STATUS_NAMES, createReadout, fillStatuses, type FieldStatusName } from './status.ts';
import { decodeValue, type FeatureValue } from './value-codec.ts';

export interface LookupFeature {
  /** Output name (`feature` or `view__feature`). */
  name: string;
  /** `view@version:feature`. */
  ref: string;
  values: unknown[];
  statuses: FieldStatusName[];
  /** ISO event time per entity row, null when NOT_FOUND. */
  eventTimestamps: (string | null)[];
}

/** A decoded value as JSON would carry it: int64 as number when safe (else string), bytes as base64, timestamps as ISO text. */
export function jsonFriendly(type: FeatureType, v: FeatureValue): unknown {
  if (v === null) return null;
  if (Array.isArray(v)) return v.map((x) => jsonFriendly(type.startsWith('list<') ? (type.slice(5, -1) as FeatureType) : type, x));
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (type === 'timestamp' && typeof v === 'number') return new Date(v).toISOString();
  if (type === 'float32' && typeof v === 'number') return shortestFloat32(v);
  return v;
}

/** The shortest decimal that reads back as the same float32 (0.1, not 0.10000000149011612). */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v)) return v;
  for (let p = 1; p <= 9; p++) {
    const x = Number(v.toPrecision(p));
    if (Math.fround(x) === v) return x;
  }
  return v;
}

/** CLI text for a join key: digits for int32 become numbers, text for bytes becomes UTF-8 bytes. */
function joinKeyValue(k: JoinKey, v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (k.type === 'int32' && /^-?\d+$/.test(v)) return Number(v);
  if (k.type === 'bytes') return Buffer.from(v, 'utf8');
  return v;
}

export async function lookupOnline(reader: OnlineReader, request: ResolvedRequest, entities: readonly Record<string, unknown>[], nowMs = Date.now()): Promise<LookupFeature[]> {
  const keyArrays = new Map<string, EntityKeyList>();
  const entityKeys = request.views.map(({ view }) => {
    const sig = view.joinKeys.map((k) => `${k.name}:${k.type}`).join(',');
    let arr = keyArrays.get(sig);
    if (!arr) {
      const enc = new EntityKeyEncoder(view.joinKeys);
      arr = EntityKeyList.of(entities.map((e, i) => {
        for (const k of view.joinKeys) {
          if (e[k.name] === undefined) throw new PitstopError('BAD_REQUEST', `entity row ${i} lacks join key "${k.name}" needed by feature view ${view.name}`);
        }
        try {
          return enc.encode(view.joinKeys.map((k) => joinKeyValue(k, e[k.name])));
        } catch (err) {
          throw new PitstopError('BAD_REQUEST', `entity row ${i}: ${(err as Error).message}`);
        }
      }));
      keyArrays.set(sig, arr);
    }
    return arr;
  });
  const rows = await reader.readRows({ views: request.views.map(({ view }) => `${view.name}@${view.version}`), entityKeys });
  const byRef = new Map<string, LookupFeature>();
  request.views.forEach(({ view, features }, j) => {
    const out = fillStatuses(rows[j], view.features.length, features.map((f) => f.index), view.ttlMs, nowMs, createReadout(entities.length, features.length));
    features.forEach((f, fi) => {
      const lf: LookupFeature = { name: f.outputName, ref: `${view.name}@${view.version}:${f.def.name}`, values: [], statuses: [], eventTimestamps: [] };
      for (let i = 0; i < entities.length; i++) {
        const k = fi * entities.length + i;
        const row = rows[j][i];
        lf.values.push(row ? jsonFriendly(f.def.type, decodeValue(row, out.valueStart[k], out.valueEnd[k])) : null);
        lf.statuses.push(FIELD_STATUS_NAMES[out.status[k]]);
        lf.eventTimestamps.push(Number.isNaN(out.eventMs[i]) ? null : new Date(out.eventMs[i]).toISOString());
      }
      byRef.set(f.outputName, lf);
    });
  });
  return request.features.map((f) => byRef.get(f.outputName)!);
}
