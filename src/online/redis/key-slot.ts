/**
 * Redis Cluster key slots (CRC16/XMODEM of the hash tag, mod 16384), on Buffers, so a read can
 * group its keys per node itself: an ioredis Cluster pipeline must only hold keys of one node.
 */
const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  TABLE[i] = c;
}

function crc16(b: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b[i]) & 0xff];
  return crc;
}

/**
 * The cluster slot of a key, honouring `{hash tags}` exactly as Redis does. The key is
 * `key[0..end)` (default: all of it), so a key written into a reused buffer needs no copy.
 */
export function keySlot(key: Uint8Array, end = key.length): number {
  const open = key.indexOf(0x7b);
  if (open >= 0 && open < end) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1 && close < end) return crc16(key, open + 1, close) & 16383;
  }
  return crc16(key, 0, end) & 16383;
}
