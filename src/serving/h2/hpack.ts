/**
 * HPACK (RFC 7541): the header compression of HTTP/2, for pitstop's own h2c transport.
 *
 * Why not node:http2: it hands every request header value to JS as a V8 external string, which
 * V8 allocates straight into old space; at 1,000 requests/s that alone caused ~45 ms mark-compact
 * pauses every ~45 s. Here header strings are ordinary young-generation strings made by
 * `latin1Slice`, and a field that hits the dynamic table returns the very string objects that were
 * stored when it was first seen, so repeated headers (the usual case on a long-lived gRPC
 * connection) cost no allocation at all.
 *
 * - `HpackDecoder` decodes whole header blocks (HEADERS + CONTINUATION fragments concatenated),
 *   keeping the dynamic table the peer's encoder drives. Anything malformed throws `HpackError`,
 *   which the connection turns into a COMPRESSION_ERROR GOAWAY (the table is then unusable).
 * - `HpackEncoder` never indexes, so the peer's SETTINGS_HEADER_TABLE_SIZE never matters and an
 *   encoded block can be cached and sent any number of times on any connection.
 *
 * Header bytes map 1:1 to string characters (latin1), as HTTP/2 field values are octets.
 */

/** A malformed header block: the connection must answer with a COMPRESSION_ERROR GOAWAY. */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

/** `latin1Slice` is Buffer's fast path behind `toString('latin1')`; @types/node does not list it. */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

// RFC 7541 Appendix A. Index 0 is unused so that HPACK indexes can be used directly.
const STATIC: ReadonlyArray<readonly [string, string]> = [
  ['', ''],
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''],
  ['cache-control', ''], ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''],
  ['content-length', ''], ['content-location', ''], ['content-range', ''], ['content-type', ''],
  ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''],
  ['if-match', ''], ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''],
  ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''],
  ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC.length - 1; // 61
const STATIC_NAMES = STATIC.map((e) => e[0]);
const STATIC_VALUES = STATIC.map((e) => e[1]);

// RFC 7541 Appendix B as code lengths in bits, symbols 0-255 then EOS (256). The code is
// canonical (codes of one length are consecutive in symbol order, shorter codes first), so the
// lengths alone determine every code; the tests check rebuilt codes against the RFC's.
const HUFFMAN_BITS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //         0x20 ' ' - '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //              0x30 '0' - '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //                0x40 '@' - 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //             0x50 'P' - '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //                0x60 '`' - 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //            0x70 'p' - DEL
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, //                                                             EOS
];
const EOS = 256;

const HUFFMAN_CODES = new Uint32Array(EOS + 1);
{
  const order = HUFFMAN_BITS.map((_, s) => s).sort((a, b) => HUFFMAN_BITS[a] - HUFFMAN_BITS[b] || a - b);
  let code = 0;
  let bits = 0;
  for (const s of order) {
    code *= 2 ** (HUFFMAN_BITS[s] - bits);
    bits = HUFFMAN_BITS[s];
    HUFFMAN_CODES[s] = code++;
  }
}

/** The RFC 7541 Appendix B code of `symbol` (0-255, or 256 for EOS), for tests and tools. */
export function huffmanCode(symbol: number): { code: number; bits: number } {
  return { code: HUFFMAN_CODES[symbol], bits: HUFFMAN_BITS[symbol] };
}

// Huffman decoding walks a state machine a nibble at a time. The states are the 256 internal
// nodes of the code tree (0 = root); HUFF_STEP[state * 16 + nibble] holds the next state in bits
// 0-7, the symbol completed on the way in bits 8-15 when STEP_EMIT is set (codes are >= 5 bits,
// so at most one per nibble), or STEP_EOS when the walk reached EOS, which must never be decoded.
const STEP_EMIT = 0x10000;
const STEP_EOS = 0x20000;
const HUFF_STEP = new Uint32Array(256 * 16);
// Bits consumed since the last symbol when they are all ones (a prefix of EOS), else -1: a string
// may only end in such a state and with at most 7 of them (RFC 7541 section 5.2).
const PAD_BITS = new Int8Array(256).fill(-1);
{
  // child[node * 2 + bit]: > 0 an internal node, < 0 the leaf ~symbol, 0 not set yet (0 is the
  // root, nobody's child).
  const child = new Int32Array(512);
  let nodes = 1;
  for (let s = 0; s <= EOS; s++) {
    let node = 0;
    for (let i = HUFFMAN_BITS[s] - 1; i > 0; i--) {
      const slot = node * 2 + ((HUFFMAN_CODES[s] >>> i) & 1);
      if (child[slot] === 0) child[slot] = nodes++;
      node = child[slot];
    }
    child[node * 2 + (HUFFMAN_CODES[s] & 1)] = ~s;
  }
  // A typo in HUFFMAN_BITS would break the Kraft equality (a complete prefix code) or the tree.
  const kraft = HUFFMAN_BITS.reduce((sum, bits) => sum + 2 ** -bits, 0);
  if (kraft !== 1 || nodes !== 256 || child.includes(0)) throw new Error('HPACK Huffman table is not a complete prefix code');
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let step = 0;
      for (let i = 3; i >= 0; i--) {
        const c = child[node * 2 + ((nibble >> i) & 1)];
        if (c >= 0) {
          node = c;
        } else if (~c === EOS) {
          step = STEP_EOS;
          break;
        } else {
          step = STEP_EMIT | (~c << 8);
          node = 0;
        }
      }
      HUFF_STEP[state * 16 + nibble] = step | node;
    }
  }
  for (let node = 0, depth = 0; depth < 30 && node >= 0; depth++, node = child[node * 2 + 1]) PAD_BITS[node] = depth;
}

const MAX_INT = 2 ** 31 - 1;
const EMPTY = Buffer.alloc(0);

/** Decodes the header blocks of one connection, in order; see `decode`. */
export class HpackDecoder {
  /** Upper bound for the table size, our SETTINGS_HEADER_TABLE_SIZE. */
  private settingMax: number;
  /** The size the peer's encoder last chose (a size update), <= settingMax. */
  private maxSize: number;
  /** Set when our setting was lowered below maxSize: the next block must start with an update. */
  private updateDue = false;
  private readonly maxListBytes: number;
  // The dynamic table is a ring: the newest entry at `first`, older ones at first + 1, ... (mod
  // capacity, a power of two > settingMax / 32, the most entries that can fit).
  private names: string[] = [];
  private values: string[] = [];
  private mask = 0;
  private first = 0;
  private count = 0;
  private size = 0;
  // The block being decoded, so the small readers below share a cursor without returning pairs.
  private buf: Buffer = EMPTY;
  private pos = 0;
  private huffOut = Buffer.allocUnsafe(256);

  constructor(maxTableSize = 4096, { maxHeaderListBytes = 65536 }: { maxHeaderListBytes?: number } = {}) {
    this.settingMax = this.maxSize = maxTableSize;
    this.maxListBytes = maxHeaderListBytes;
    this.growRing(maxTableSize);
  }

  /**
   * Our SETTINGS_HEADER_TABLE_SIZE changed; call when the peer acknowledges the SETTINGS frame
   * carrying it. Lowering it below the table's current size obliges the peer to start its next
   * block with a size update (RFC 7541 section 4.2).
   */
  setMaxTableSize(n: number): void {
    this.settingMax = n;
    if (this.maxSize > n) this.updateDue = true;
    this.growRing(n);
  }

  /** The dynamic table's size in octets (RFC 7541 section 4.1). */
  get dynamicTableSize(): number {
    return this.size;
  }

  /** The dynamic table's entries, newest first (for tests and debugging: it allocates). */
  dynamicEntries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.count; i++) out.push([this.names[(this.first + i) & this.mask], this.values[(this.first + i) & this.mask]]);
    return out;
  }

  /** Decodes one complete header block, calling `onHeader` for each field in order. */
  decode(block: Buffer, onHeader: (name: string, value: string) => void): void {
    this.buf = block;
    this.pos = 0;
    let listBytes = 0;
    let fields = false;
    try {
      while (this.pos < block.length) {
        const b = block[this.pos];
        let name: string;
        let value: string;
        if (b & 0x80) {
          // Indexed field.
          const index = this.int(7);
          if (index === 0) throw new HpackError('indexed header field with index 0');
          if (index <= STATIC_COUNT) {
            name = STATIC_NAMES[index];
            value = STATIC_VALUES[index];
          } else {
            const slot = this.dynamicSlot(index);
            name = this.names[slot];
            value = this.values[slot];
          }
        } else if (b & 0x40) {
          // Literal with incremental indexing.
          name = this.literalName(6);
          value = this.string();
          this.insert(name, value);
        } else if (b & 0x20) {
          if (fields) throw new HpackError('dynamic table size update after a header field (only allowed at the start of a block)');
          const size = this.int(5);
          if (size > this.settingMax) throw new HpackError(`dynamic table size update to ${size} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.settingMax}`);
          this.maxSize = size;
          this.evictTo(size);
          this.updateDue = false;
          continue;
        } else {
          // Literal without indexing (0000) or never indexed (0001): the same to a decoder.
          name = this.literalName(4);
          value = this.string();
        }
        if (!fields) {
          if (this.updateDue) throw new HpackError(`expected a dynamic table size update: SETTINGS_HEADER_TABLE_SIZE was lowered to ${this.settingMax}`);
          fields = true;
        }
        listBytes += name.length + value.length + 32;
        if (listBytes > this.maxListBytes) throw new HpackError(`header list exceeds ${this.maxListBytes} bytes`);
        onHeader(name, value);
      }
    } finally {
      this.buf = EMPTY;
    }
  }

  /** Reads an integer with an N-bit prefix (RFC 7541 section 5.1) at the cursor. */
  private int(prefixBits: number): number {
    const buf = this.buf;
    const max = (1 << prefixBits) - 1;
    let value = buf[this.pos++] & max;
    if (value < max) return value;
    // Multiplying rather than shifting keeps values past 2^31 exact so that they can be rejected.
    for (let scale = 1, n = 0; ; scale *= 128, n++) {
      if (this.pos >= buf.length) throw new HpackError('header block ends inside an integer');
      if (n === 5) throw new HpackError('integer takes more than 6 bytes');
      const b = buf[this.pos++];
      value += (b & 0x7f) * scale;
      if (value > MAX_INT) throw new HpackError('integer exceeds 2^31 - 1');
      if ((b & 0x80) === 0) return value;
    }
  }

  /** A literal representation's name: a table index in the prefix, or 0 and a string. */
  private literalName(prefixBits: number): string {
    const index = this.int(prefixBits);
    if (index === 0) return this.string();
    return index <= STATIC_COUNT ? STATIC_NAMES[index] : this.names[this.dynamicSlot(index)];
  }

  /** Reads a string literal (RFC 7541 section 5.2): an H flag, a 7-bit-prefix length, octets. */
  private string(): string {
    if (this.pos >= this.buf.length) throw new HpackError('header block ends before a string literal');
    const huffman = this.buf[this.pos] & 0x80;
    const length = this.int(7);
    const start = this.pos;
    const end = start + length;
    if (end > this.buf.length) throw new HpackError(`string literal of ${length} bytes overruns the header block by ${end - this.buf.length}`);
    this.pos = end;
    return huffman ? this.huffman(start, end) : (this.buf as Latin1Buffer).latin1Slice(start, end);
  }

  private huffman(start: number, end: number): string {
    const buf = this.buf;
    // Every code is at least 5 bits, so n bytes decode to at most 8n/5 symbols.
    const bound = Math.ceil(((end - start) * 8) / 5);
    if (this.huffOut.length < bound) this.huffOut = Buffer.allocUnsafe(Math.max(bound, this.huffOut.length * 2));
    const out = this.huffOut;
    let n = 0;
    let state = 0;
    for (let i = start; i < end; i++) {
      const b = buf[i];
      let step = HUFF_STEP[(state << 4) | (b >> 4)];
      if (step & STEP_EOS) throw new HpackError('Huffman string contains the EOS symbol');
      if (step & STEP_EMIT) out[n++] = (step >> 8) & 0xff;
      step = HUFF_STEP[((step & 0xff) << 4) | (b & 0x0f)];
      if (step & STEP_EOS) throw new HpackError('Huffman string contains the EOS symbol');
      if (step & STEP_EMIT) out[n++] = (step >> 8) & 0xff;
      state = step & 0xff;
    }
    const pad = PAD_BITS[state];
    if (pad < 0) throw new HpackError('Huffman string ends inside a symbol (padding is not a prefix of EOS)');
    if (pad > 7) throw new HpackError('Huffman string has padding longer than 7 bits');
    return (out as Latin1Buffer).latin1Slice(0, n);
  }

  /** The ring slot of an index past the static table, or HpackError when there is none. */
  private dynamicSlot(index: number): number {
    const i = index - STATIC_COUNT - 1;
    if (i >= this.count) throw new HpackError(`index ${index} is beyond the tables (${STATIC_COUNT} static + ${this.count} dynamic)`);
    return (this.first + i) & this.mask;
  }

  private insert(name: string, value: string): void {
    const entry = name.length + value.length + 32;
    // An entry larger than the table empties it and is not added (RFC 7541 section 4.4).
    this.evictTo(Math.max(0, this.maxSize - entry));
    if (entry > this.maxSize) return;
    this.first = (this.first - 1) & this.mask;
    this.names[this.first] = name;
    this.values[this.first] = value;
    this.count++;
    this.size += entry;
  }

  private evictTo(size: number): void {
    while (this.size > size) {
      const slot = (this.first + --this.count) & this.mask;
      this.size -= this.names[slot].length + this.values[slot].length + 32;
      // Drop the references so evicted strings can be collected.
      this.names[slot] = this.values[slot] = '';
    }
  }

  /** Makes the ring big enough for a table of `maxSize` octets (it never shrinks). */
  private growRing(maxSize: number): void {
    let capacity = 1;
    while (capacity * 32 <= maxSize) capacity *= 2;
    if (capacity <= this.names.length) return;
    const entries = this.dynamicEntries();
    this.names = new Array<string>(capacity).fill('');
    this.values = new Array<string>(capacity).fill('');
    this.mask = capacity - 1;
    this.first = 0;
    entries.forEach(([name, value], i) => {
      this.names[i] = name;
      this.values[i] = value;
    });
  }
}

// For the encoder: each static name's first index, and the index of each full (name, value) match.
const STATIC_NAME_INDEX = new Map<string, number>();
const STATIC_FIELD_INDEX = new Map<string, Map<string, number>>();
for (let i = STATIC_COUNT; i >= 1; i--) {
  const [name, value] = STATIC[i];
  STATIC_NAME_INDEX.set(name, i);
  let values = STATIC_FIELD_INDEX.get(name);
  if (!values) STATIC_FIELD_INDEX.set(name, (values = new Map()));
  values.set(value, i);
}

/**
 * Encodes header lists with the static table only: a full static match as an indexed field
 * (`:status: 200` is the single byte 0x88), anything else as a literal without indexing, with the
 * static name's index when there is one. Strings are sent raw: these blocks are small, and
 * Huffman would cost CPU on every response for a few bytes. Having no state, an encoded block can
 * be built once at start-up and reused; `encode` returns a fresh Buffer the caller owns.
 */
export class HpackEncoder {
  private scratch = Buffer.allocUnsafe(1024);

  encode(headers: ReadonlyArray<readonly [string, string]>): Buffer {
    // A field takes at most 13 bytes besides its strings: a type byte and two 6-byte lengths.
    let bound = 0;
    for (const [name, value] of headers) bound += name.length + value.length + 13;
    if (this.scratch.length < bound) this.scratch = Buffer.allocUnsafe(Math.max(bound, this.scratch.length * 2));
    const buf = this.scratch;
    let pos = 0;
    for (const [name, value] of headers) {
      checkName(name);
      const full = STATIC_FIELD_INDEX.get(name)?.get(value);
      if (full !== undefined) {
        pos = writeInt(buf, pos, 0x80, 7, full);
        continue;
      }
      const nameIndex = STATIC_NAME_INDEX.get(name);
      if (nameIndex !== undefined) {
        pos = writeInt(buf, pos, 0x00, 4, nameIndex);
      } else {
        buf[pos++] = 0x00;
        pos = writeString(buf, pos, name);
      }
      checkValue(name, value);
      pos = writeString(buf, pos, value);
    }
    return Buffer.from(buf.subarray(0, pos));
  }
}

function checkName(name: string): void {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // HTTP/2 requires lowercase names (RFC 9113 section 8.2.1); an uppercase one is our own bug.
    if ((c >= 0x41 && c <= 0x5a) || c > 0xff) throw new Error(`header name ${JSON.stringify(name)} must be lowercase latin1`);
  }
}

function checkValue(name: string, value: string): void {
  for (let i = 0; i < value.length; i++) {
    // latin1 encoding would silently keep only the low byte of a wider character.
    if (value.charCodeAt(i) > 0xff) throw new Error(`header ${name} has a value that is not latin1`);
  }
}

function writeInt(buf: Buffer, pos: number, flags: number, prefixBits: number, value: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    buf[pos++] = flags | value;
    return pos;
  }
  buf[pos++] = flags | max;
  value -= max;
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

function writeString(buf: Buffer, pos: number, s: string): number {
  pos = writeInt(buf, pos, 0x00, 7, s.length);
  return pos + buf.write(s, pos, 'latin1');
}
