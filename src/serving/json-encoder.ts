/**
 * Writes the HTTP/JSON answer of a lookup straight from an OnlineFeaturesResult, as bytes: the
 * JSON counterpart of response-encoder.ts. No object per value, no intermediate tree for
 * JSON.stringify: the common stored forms (int64, int32, float64, float32, bool, timestamp) are
 * read from the Value bytes and written as digits in place; anything else (strings, bytes, lists,
 * negative or very large integers) goes through the general decoder, one value at a time.
 *
 * Output, byte for byte what `JSON.stringify` gives for:
 *   {"metadata":{"feature_names":[...],"registry_version":N},
 *    "results":[{"values":[...],"statuses":["PRESENT",...],"event_timestamps_ms":[...]}, ...]}
 * Values as `jsonFriendly` renders them: int64 as a number when it is exact in a double and as a
 * string of digits when it is not, float32 as its shortest round-tripping decimal, bytes as
 * base64, timestamps as ISO 8601 strings, non-finite floats as null (JSON has no NaN).
 *
 * The per-view event-time array is the same for every feature of a view, so it is written once
 * and copied, as the protobuf encoder does. With `"event_timestamps": "per_view"` a view's later
 * features carry `"event_timestamps_from": <index of its first feature>` instead of the array;
 * with `"none"`, neither.
 */
import type { FeatureType } from '../core/feature-types.ts';
import { jsonFriendly, shortestFloat32 } from '../online/lookup.ts';
import { decodeValue } from '../online/value-codec.ts';
import type { RequestPlan } from './plan.ts';
import { EVENT_TIMESTAMPS, STATUS_NAMES, type OnlineFeaturesResult } from './result.ts';
import { int32s } from './slab.ts';

/** How a feature's values are rendered: a fast path keyed on the one Value tag it expects. */
const K_INT64 = 0;
const K_INT32 = 1;
const K_FLOAT64 = 2;
const K_FLOAT32 = 3;
const K_BOOL = 4;
const K_TIMESTAMP = 5;
const K_OTHER = 6;

const KIND: Readonly<Record<string, number>> = { int64: K_INT64, int32: K_INT32, float64: K_FLOAT64, float32: K_FLOAT32, bool: K_BOOL, timestamp: K_TIMESTAMP };

/** The Value tag byte each fast path expects (field << 3 | wire type; see value-codec.ts), by kind. */
const TAG = Uint8Array.of(0x20, 0x18, 0x29, 0x35, 0x38, 0x40, 0);

/** What one plan needs beyond the result, built on first use and kept as long as the plan. */
interface JsonPlan {
  /** `{"metadata":{...},"results":[` for one registry version. */
  head: Buffer;
  registryVersion: number;
  kinds: Uint8Array;
  types: readonly FeatureType[];
}

const STATUS_JSON = STATUS_NAMES.map((s) => Buffer.from(`"${s}"`, 'latin1'));
const MAX_STATUS_JSON = Math.max(...STATUS_JSON.map((b) => b.length));
const VALUES_OPEN = Buffer.from('{"values":[', 'latin1');
const STATUSES_OPEN = Buffer.from('],"statuses":[', 'latin1');
const TS_OPEN = Buffer.from(',"event_timestamps_ms":', 'latin1');
const TS_FROM = Buffer.from(',"event_timestamps_from":', 'latin1');
const NULL = Buffer.from('null', 'latin1');
const TRUE = Buffer.from('true', 'latin1');
const FALSE = Buffer.from('false', 'latin1');

const plans = new WeakMap<RequestPlan, JsonPlan>();

function jsonPlan(plan: RequestPlan, registryVersion: number): JsonPlan {
  let p = plans.get(plan);
  if (!p || p.registryVersion !== registryVersion) {
    const head = `{"metadata":${JSON.stringify({ feature_names: plan.featureNames, registry_version: registryVersion })},"results":[`;
    p = {
      head: Buffer.from(head, 'utf8'),
      registryVersion,
      kinds: Uint8Array.from(plan.featureTypes, (t) => KIND[t] ?? K_OTHER),
      types: plan.featureTypes,
    };
    plans.set(plan, p);
  }
  return p;
}

/** Responses whose scratch grew beyond this give the memory back after they are written. */
const KEEP_SCRATCH_BYTES = 1 << 20;

/** A growable byte buffer the answer is written into; one per process (writes are synchronous). */
class Out {
  buf = Buffer.allocUnsafeSlow(16 << 10);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.pos + n, 2 * this.buf.length));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    const { buf } = this;
    let pos = this.pos;
    if (b.length < 32) for (let i = 0; i < b.length; i++) buf[pos++] = b[i];
    else {
      buf.set(b, pos);
      pos += b.length;
    }
    this.pos = pos;
  }

  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** Text that is already JSON (a number's or a quoted string's rendering). */
  text(s: string): void {
    this.ensure(3 * s.length);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A non-negative safe integer as decimal digits. */
  uint(n: number): void {
    this.ensure(16);
    const { buf } = this;
    if (n < 0x80000000) {
      let x = n | 0;
      let digits = 1;
      for (let t = x; t >= 10; t = (t / 10) | 0) digits++;
      let at = this.pos + digits;
      this.pos = at;
      do {
        const q = (x / 10) | 0;
        buf[--at] = 48 + x - q * 10;
        x = q;
      } while (x > 0);
      return;
    }
    // Beyond 31 bits (epoch milliseconds are 41): the high part, then the low 8 digits padded.
    const hi = Math.floor(n / 1e8);
    this.uint(hi);
    let lo = n - hi * 1e8;
    let at = this.pos + 8;
    this.pos = at;
    for (let i = 0; i < 8; i++) {
      const q = (lo / 10) | 0;
      buf[--at] = 48 + lo - q * 10;
      lo = q;
    }
  }

  /** Any number as JSON.stringify writes it. */
  number(n: number): void {
    if (n >= 0 && Number.isSafeInteger(n)) this.uint(n);
    else if (Number.isFinite(n)) this.text(String(n));
    else this.bytes(NULL);
  }
}

const out = new Out();

/**
 * A varint of at most 7 bytes (below 2^49, exact in a double) at `data[s..e)`, covering the range
 * exactly; -1 otherwise (the caller falls back to the general decoder).
 */
function shortVarint(data: Buffer, s: number, e: number): number {
  const len = e - s;
  if (len < 1 || len > 7) return -1;
  let v = 0;
  let mul = 1;
  for (let i = s; i < e; i++) {
    const b = data[i];
    if (i < e - 1 ? b < 0x80 : b >= 0x80) return -1;
    v += (b & 0x7f) * mul;
    mul *= 128;
  }
  return v;
}

/** One value, `data[s..e)` non-empty, as JSON. */
function writeValue(o: Out, kind: number, type: FeatureType, data: Buffer, s: number, e: number): void {
  if (kind !== K_OTHER && data[s] === TAG[kind]) {
    switch (kind) {
      case K_INT64:
      case K_INT32: {
        const v = shortVarint(data, s + 1, e);
        if (v >= 0 && (kind === K_INT64 || v < 0x80000000)) return o.uint(v);
        break;
      }
      case K_FLOAT64:
        if (e - s === 9) return o.number(data.readDoubleLE(s + 1));
        break;
      case K_FLOAT32:
        if (e - s === 5) return o.number(shortestFloat32(data.readFloatLE(s + 1)));
        break;
      case K_BOOL:
        if (e - s === 2 && data[s + 1] < 2) return o.bytes(data[s + 1] === 1 ? TRUE : FALSE);
        break;
      case K_TIMESTAMP: {
        const v = shortVarint(data, s + 1, e);
        if (v >= 0) {
          o.byte(0x22);
          o.text(new Date(v).toISOString());
          return o.byte(0x22);
        }
        break;
      }
    }
  }
  o.text(JSON.stringify(jsonFriendly(type, decodeValue(data, s, e))));
}

/** The JSON answer for `r`, in a Buffer of its own. */
export function encodeJsonResponse(r: OnlineFeaturesResult): Buffer {
  const { plan, entityCount: n, data, valueStart, valueEnd, statuses, eventTsMs, eventTimestamps: mode } = r;
  const jp = jsonPlan(plan, r.registryVersion);
  const o = out;
  o.pos = 0;
  o.bytes(jp.head);
  const nFeatures = plan.featureNames.length;
  // Where each view's event-time array was first written: [start, end) in the output.
  const tsAt = int32s(2 * plan.views.length).fill(-1);
  for (let f = 0; f < nFeatures; f++) {
    if (f > 0) o.byte(0x2c);
    o.bytes(VALUES_OPEN);
    const kind = jp.kinds[f];
    const type = jp.types[f];
    for (let i = 0, k = f * n; i < n; i++, k++) {
      if (i > 0) o.byte(0x2c);
      const s = valueStart[k];
      const e = valueEnd[k];
      if (e > s) writeValue(o, kind, type, data, s, e);
      else o.bytes(NULL);
    }
    o.bytes(STATUSES_OPEN);
    // Statuses have a bounded size: room for all of them once, then plain stores.
    o.ensure(n * (MAX_STATUS_JSON + 1));
    const buf = o.buf;
    let pos = o.pos;
    for (let i = 0, k = f * n; i < n; i++, k++) {
      if (i > 0) buf[pos++] = 0x2c;
      const st = STATUS_JSON[statuses[k]];
      for (let b = 0; b < st.length; b++) buf[pos++] = st[b];
    }
    o.pos = pos;
    o.byte(0x5d);
    const v = plan.featureView[f];
    if (mode !== EVENT_TIMESTAMPS.PER_FEATURE) {
      if (mode === EVENT_TIMESTAMPS.NONE) {
        o.byte(0x7d);
        continue;
      }
      const first = plan.firstOfView[f];
      if (first !== f) {
        o.bytes(TS_FROM);
        o.number(first);
        o.byte(0x7d);
        continue;
      }
    }
    o.bytes(TS_OPEN);
    const start = tsAt[2 * v];
    if (start >= 0) {
      const len = tsAt[2 * v + 1] - start;
      o.ensure(len);
      // copyWithin, not Buffer#copy: the latter makes a view object per call in Node 20.
      o.buf.copyWithin(o.pos, start, start + len);
      o.pos += len;
    } else {
      tsAt[2 * v] = o.pos;
      o.byte(0x5b);
      for (let i = 0, k = v * n; i < n; i++, k++) {
        if (i > 0) o.byte(0x2c);
        o.number(eventTsMs[k]);
      }
      o.byte(0x5d);
      tsAt[2 * v + 1] = o.pos;
    }
    o.byte(0x7d);
  }
  o.byte(0x5d);
  o.byte(0x7d);
  const body = Buffer.from(o.buf.subarray(0, o.pos));
  if (o.buf.length > KEEP_SCRATCH_BYTES) o.buf = Buffer.allocUnsafeSlow(16 << 10);
  return body;
}
