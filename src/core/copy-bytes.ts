/**
 * Copies `len` bytes from `src` at `s` to `dst` at `d`, four bytes a step through `sv` and `dv`
 * (DataViews over the same memory as `src` and `dst`), the last 0-3 bytes one by one.
 *
 * Why not `Buffer#copy` or `dst.set(src.subarray(...))`: in Node 20 both make a typed-array view
 * object per call, which on the serving path means one per value or row copied, and in a heap
 * sample of the near-cache server those views were the largest source of garbage reaching the
 * old generation. Callers keep one DataView per buffer (one per request, not one per copy) and
 * use this for 32 bytes or more; a plain byte loop is faster below that.
 */
export function copyViaViews(sv: DataView, src: Uint8Array, s: number, dv: DataView, dst: Uint8Array, d: number, len: number): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) dv.setUint32(d + i, sv.getUint32(s + i));
  for (; i < len; i++) dst[d + i] = src[s + i];
}
