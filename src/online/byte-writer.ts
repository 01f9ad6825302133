/**
 * A growable byte buffer with the few protobuf primitives the value and row codecs need. The
 * codecs write straight into it (no protobufjs objects on the hot path).
 *
 * Growth copies into a new Buffer and never touches the old one, so a `subarray` handed out
 * earlier stays valid; `reset()` starts a fresh buffer for the same reason (a caller may still
 * hold rows that a Redis client has not flushed yet).
 */
const TWO_32 = 4294967296;

export class ByteWriter {
  buf: Buffer;
  pos = 0;
  private readonly initial: number;

  /** @param initial first buffer size in bytes; default 4096. */
  constructor(initial = 4096) {
    this.initial = initial;
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Forget everything written; later writes go to a new buffer (earlier subarrays stay intact). */
  reset(size = this.initial): void {
    this.buf = Buffer.allocUnsafe(size);
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned varint of a non-negative integer below 2^32. */
  varint32(n: number): void {
    this.ensure(5);
    const b = this.buf;
    while (n > 127) {
      b[this.pos++] = (n & 127) | 128;
      n >>>= 7;
    }
    b[this.pos++] = n;
  }

  /** Varint of a 64-bit two's complement value given as (lo, hi) unsigned 32-bit halves. */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    while (hi) {
      b[this.pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      b[this.pos++] = (lo & 127) | 128;
      lo >>>= 7;
    }
    b[this.pos++] = lo;
  }

  /** Varint of a safe integer (negative values take ten bytes, as protobuf's int64 does). */
  varintNumber(n: number): void {
    if (n >= 0 && n < TWO_32) return this.varint32(n);
    const hi = Math.floor(n / TWO_32);
    this.varint64((n - hi * TWO_32) >>> 0, hi >>> 0);
  }

  varintBigint(n: bigint): void {
    const u = BigInt.asUintN(64, n);
    this.varint64(Number(u & 0xffffffffn), Number(u >> 32n));
  }

  f32(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** Varint length then the bytes. */
  lenBytes(src: Uint8Array): void {
    this.varint32(src.length);
    this.bytes(src);
  }

  /** Varint length then the UTF-8 bytes of `s`. */
  lenString(s: string): void {
    // ASCII-heavy strings: at most 3 bytes per UTF-16 unit; write after a reserved length.
    const max = s.length * 3;
    const mark = this.beginLen(max);
    this.ensure(max);
    this.pos += this.buf.write(s, this.pos, max, "utf8");
    this.endLen(mark);
  }

  /**
   * Reserve room for a varint length (1 byte, or 5 when `hint` says the body may be long) and
   * return the mark `endLen` needs once the body is written.
   */
  beginLen(hint = 0): number {
    const width = hint < 128 ? 1 : 5;
    this.ensure(width);
    this.pos += width;
    return this.pos * 8 + width; // position of the body and reserved width in one number
  }

  endLen(mark: number): void {
    const width = mark & 7;
    const start = (mark - width) / 8;
    const len = this.pos - start;
    const need = varintSize(len);
    if (need !== width) {
      // Move the body so the length takes exactly `need` bytes (canonical encoding).
      this.ensure(need - width);
      this.buf.copyWithin(start - width + need, start, this.pos);
      this.pos += need - width;
    }
    let p = start - width;
    let n = len;
    while (n > 127) {
      this.buf[p++] = (n & 127) | 128;
      n >>>= 7;
    }
    this.buf[p] = n;
  }

  /** The bytes written since `start`, without copying. */
  slice(start: number): Buffer {
    return this.buf.subarray(start, this.pos);
  }
}

export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}
