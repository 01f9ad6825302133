/**
 * Writes GetOnlineFeaturesResponse protobuf bytes straight from an OnlineFeaturesResult: sizes in
 * one pass, bytes in a second, into one buffer. Stored values are already encoded `Value`
 * messages, so each is spliced in as is (no decode, no object per value). The per-view packed
 * event timestamps are identical for every feature of that view, so they are encoded once per
 * view and copied into each of its vectors, or (EVENT_TIMESTAMPS_PER_VIEW) written into the
 * view's first vector only, the others naming it in `event_timestamps_from`.
 *
 * Wire layout (see serving.proto):
 *   1: metadata (precomputed per plan)            2: FeatureVector, one per feature
 *   FeatureVector { 1: Value (repeated, length-delimited), 2: packed statuses, 4: packed int64 ts,
 *                   5: event_timestamps_from }
 */
import { copyViaViews } from '../core/copy-bytes.ts';
import { EVENT_TIMESTAMPS, type OnlineFeaturesResult } from './result.ts';
import { int32s } from './slab.ts';

export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 0x80);
  }
  return n;
}

/** Writes a non-negative integer (< 2^53) as a varint; returns the new position. */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80000000) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeString(buf: Buffer, pos: number, tag: number, s: string): number {
  const len = Buffer.byteLength(s);
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, len);
  return pos + buf.write(s, pos);
}

/** Field 1 of the response (metadata: feature names and registry version), tag included. */
export function encodeMetadata(featureNames: readonly string[], registryVersion: number): Buffer {
  let list = 0;
  for (const n of featureNames) {
    const l = Buffer.byteLength(n);
    list += 1 + varintSize(l) + l;
  }
  const body = 1 + varintSize(list) + list + 1 + varintSize(registryVersion);
  const buf = Buffer.allocUnsafe(1 + varintSize(body) + body);
  let pos = 0;
  buf[pos++] = 0x0a;
  pos = writeVarint(buf, pos, body);
  buf[pos++] = 0x0a; // feature_names
  pos = writeVarint(buf, pos, list);
  for (const n of featureNames) pos = writeString(buf, pos, 0x0a, n);
  buf[pos++] = 0x10; // registry_version
  pos = writeVarint(buf, pos, registryVersion);
  return buf;
}

/**
 * A buffer `encodeResponse` may write into instead of allocating one per response: for a caller
 * that copies the bytes before the next call (the in-process benches; the gRPC server instead
 * asks for headroom and sends the encoder's own buffer, so nothing is copied).
 */
export class ResponseScratch {
  buf: Buffer = Buffer.allocUnsafeSlow(64 << 10);
}

/** Responses larger than this get a buffer of their own even with a scratch. */
const MAX_SCRATCH_BYTES = 4 << 20;

/**
 * GetOnlineFeaturesResponse bytes for `r`. With `scratch`, the bytes are a view of the scratch
 * buffer, valid until the next call with it. With `headroom`, the answer is a new buffer that
 * starts with that many bytes left for the caller (the gRPC transport writes its 5-byte message
 * prefix there, so the message is never copied into a framed buffer of its own).
 */
export function encodeResponse(r: OnlineFeaturesResult, scratch?: ResponseScratch, headroom = 0): Buffer {
  const { plan, entityCount: n, data, valueStart, valueEnd, statuses, eventTsMs, eventTimestamps: mode } = r;
  const nViews = plan.views.length;
  const nFeatures = plan.featureNames.length;
  // Per view: the packed timestamps' payload length.
  const tsLen = int32s(nViews);
  for (let v = 0; v < nViews && mode !== EVENT_TIMESTAMPS.NONE; v++) {
    let l = 0;
    for (let i = 0, k = v * n; i < n; i++, k++) l += varintSize(eventTsMs[k]);
    tsLen[v] = l;
  }
  const statusBlock = n === 0 ? 0 : 1 + varintSize(n) + n;
  const vecLen = int32s(nFeatures);
  let total = plan.metadataBytes.length;
  for (let f = 0; f < nFeatures; f++) {
    const v = plan.featureView[f];
    let len = statusBlock;
    if (n > 0 && mode !== EVENT_TIMESTAMPS.NONE) {
      const first = mode === EVENT_TIMESTAMPS.PER_VIEW ? plan.firstOfView[f] : f;
      if (first === f) len += 1 + varintSize(tsLen[v]) + tsLen[v];
      else if (first > 0) len += 1 + varintSize(first);
    }
    for (let i = 0, k = f * n; i < n; i++, k++) {
      const l = valueEnd[k] - valueStart[k];
      len += 1 + (l < 0x80 ? 1 : varintSize(l)) + l;
    }
    vecLen[f] = len;
    total += 1 + varintSize(len) + len;
  }

  let out: Buffer;
  if (headroom > 0) out = Buffer.allocUnsafe(headroom + total);
  else if (scratch && total <= MAX_SCRATCH_BYTES) {
    if (scratch.buf.length < total) scratch.buf = Buffer.allocUnsafeSlow(Math.max(total, 2 * scratch.buf.length));
    out = scratch.buf.subarray(0, total);
  } else out = Buffer.allocUnsafe(total);
  plan.metadataBytes.copy(out, headroom);
  let pos = headroom + plan.metadataBytes.length;
  // Where each view's packed timestamps were first written in `out` (-1: not yet); later
  // features of the view copy them from there (copyWithin: no view object, no block Buffer).
  const tsAt = int32s(nViews).fill(-1);
  // Values of 32 bytes or more are copied through these (made on first need; core/copy-bytes.ts).
  let dv: DataView | undefined;
  let ov: DataView | undefined;
  for (let f = 0; f < nFeatures; f++) {
    const v = plan.featureView[f];
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, vecLen[f]);
    for (let i = 0, k = f * n; i < n; i++, k++) {
      const s = valueStart[k];
      const e = valueEnd[k];
      const l = e - s;
      out[pos++] = 0x0a;
      if (l < 0x80) out[pos++] = l;
      else pos = writeVarint(out, pos, l);
      if (l > 0) {
        if (l < 32) for (let b = s; b < e; b++) out[pos++] = data[b];
        else {
          if (dv === undefined) {
            dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
            ov = new DataView(out.buffer, out.byteOffset, out.byteLength);
          }
          copyViaViews(dv, data, s, ov!, out, pos, l);
          pos += l;
        }
      }
    }
    if (n === 0) continue;
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, n);
    for (let i = 0, k = f * n; i < n; i++, k++) out[pos++] = statuses[k];
    if (mode !== EVENT_TIMESTAMPS.PER_FEATURE) {
      if (mode === EVENT_TIMESTAMPS.NONE) continue;
      const first = plan.firstOfView[f];
      if (first !== f) {
        // event_timestamps_from (0, the default, is not written)
        if (first > 0) {
          out[pos++] = 0x28;
          pos = writeVarint(out, pos, first);
        }
        continue;
      }
    }
    const at = tsAt[v];
    if (at < 0) {
      tsAt[v] = pos;
      out[pos++] = 0x22;
      pos = writeVarint(out, pos, tsLen[v]);
      for (let i = 0, k = v * n; i < n; i++, k++) pos = writeVarint(out, pos, eventTsMs[k]);
    } else {
      const len = 1 + varintSize(tsLen[v]) + tsLen[v];
      if (len < 64) for (let b = at; b < at + len; b++) out[pos++] = out[b];
      else {
        out.copyWithin(pos, at, at + len);
        pos += len;
      }
    }
  }
  if (pos !== headroom + total) throw new Error(`response encoder wrote ${pos - headroom} bytes, expected ${total}`);
  return out;
}
