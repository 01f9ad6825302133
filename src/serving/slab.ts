/**
 * Typed arrays for one request's result carved out of a shared slab, so a request allocates
 * array views but no ArrayBuffer backing stores of its own (each of those costs an allocation
 * outside the JS heap plus GC bookkeeping). When a slab is used up a new one is started; the old
 * one is freed by GC once no request's views point into it. Same idea as Buffer.allocUnsafe's pool.
 */
const SLAB_BYTES = 256 * 1024;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

function carve(bytes: number): [ArrayBuffer, number] {
  const aligned = (bytes + 7) & ~7;
  if (aligned > SLAB_BYTES / 4) return [new ArrayBuffer(aligned), 0];
  if (used + aligned > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const at = used;
  used += aligned;
  return [slab, at];
}

/** Zero-filled like `new Int32Array(n)`: slab regions are fresh memory, never handed out twice. */
export function int32s(n: number): Int32Array {
  const [buf, at] = carve(n * 4);
  return new Int32Array(buf, at, n);
}

export function uint8s(n: number): Uint8Array {
  const [buf, at] = carve(n);
  return new Uint8Array(buf, at, n);
}

export function float64s(n: number): Float64Array {
  const [buf, at] = carve(n * 8);
  return new Float64Array(buf, at, n);
}
