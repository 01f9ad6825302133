/**
 * The HPACK codec (src/serving/h2/hpack.ts) against RFC 7541's own examples (Appendix C), its
 * Huffman table (Appendix B), and real nghttp2 in both directions: node:http2 client blocks
 * decoded here, and strings Huffman-coded with our table decoded by a node:http2 server.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackEncoder, HpackError, huffmanCode } from '../../src/serving/h2/hpack.ts';
import { frame } from '../support/h2-frame.ts';

type Field = [string, string];

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const bytes = (from: number, to: number) => Buffer.from(Array.from({ length: to - from + 1 }, (_, i) => from + i));

function decodeAll(decoder: HpackDecoder, block: Buffer): Field[] {
  const out: Field[] = [];
  decoder.decode(block, (name, value) => out.push([name, value]));
  return out;
}

function decodeError(decoder: HpackDecoder, block: Buffer): HpackError {
  try {
    decoder.decode(block, () => {});
  } catch (err) {
    expect(err).toBeInstanceOf(HpackError);
    return err as HpackError;
  }
  throw new Error(`block ${block.toString('hex')} decoded without error`);
}

/** An HPACK integer (RFC 7541 section 5.1) with `flags` in the bits above the prefix. */
function int(flags: number, prefixBits: number, value: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([flags | value]);
  const out = [flags | max];
  for (value -= max; value >= 128; value = Math.floor(value / 128)) out.push((value % 128) | 0x80);
  out.push(value);
  return Buffer.from(out);
}

/** Huffman-codes `data` with huffmanCode(), padding with the most significant bits of EOS. */
function huffman(data: Buffer): Buffer {
  let bits = '';
  for (const b of data) {
    const { code, bits: n } = huffmanCode(b);
    bits += code.toString(2).padStart(n, '0');
  }
  bits += '1'.repeat((8 - (bits.length % 8)) % 8);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return out;
}

/** A string literal: raw, or Huffman-coded (the H bit). */
function literal(data: Buffer | string, huff = false): Buffer {
  const raw = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const body = huff ? huffman(raw) : raw;
  return Buffer.concat([int(huff ? 0x80 : 0, 7, body.length), body]);
}

describe('RFC 7541 Appendix C examples', () => {
  it('C.2: single field representations', () => {
    const cases: Array<[string, Field, Field[]]> = [
      ['400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', ['custom-key', 'custom-header'], [['custom-key', 'custom-header']]],
      ['040c 2f73 616d 706c 652f 7061 7468', [':path', '/sample/path'], []],
      ['1008 7061 7373 776f 7264 0673 6563 7265 74', ['password', 'secret'], []],
      ['82', [':method', 'GET'], []],
    ];
    for (const [block, field, table] of cases) {
      const decoder = new HpackDecoder();
      expect(decodeAll(decoder, hex(block))).toEqual([field]);
      expect(decoder.dynamicEntries()).toEqual(table);
      expect(decoder.dynamicTableSize).toBe(table.length ? 55 : 0);
    }
  });

  const requests: Field[][] = [
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
  ];
  const requestTables: Array<[Field[], number]> = [
    [[[':authority', 'www.example.com']], 57],
    [[['cache-control', 'no-cache'], [':authority', 'www.example.com']], 110],
    [[['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']], 164],
  ];

  function checkSequence(decoder: HpackDecoder, blocks: string[], lists: Field[][], tables: Array<[Field[], number]>) {
    blocks.forEach((block, i) => {
      expect(decodeAll(decoder, hex(block))).toEqual(lists[i]);
      expect(decoder.dynamicEntries()).toEqual(tables[i][0]);
      expect(decoder.dynamicTableSize).toBe(tables[i][1]);
    });
  }

  it('C.3: requests without Huffman coding', () => {
    const blocks = [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ];
    checkSequence(new HpackDecoder(), blocks, requests, requestTables);
  });

  it('C.4: requests with Huffman coding', () => {
    const blocks = [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ];
    checkSequence(new HpackDecoder(), blocks, requests, requestTables);
  });

  const date1: Field = ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'];
  const date2: Field = ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'];
  const location: Field = ['location', 'https://www.example.com'];
  const priv: Field = ['cache-control', 'private'];
  const cookie: Field = ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'];
  const responses: Field[][] = [
    [[':status', '302'], priv, date1, location],
    [[':status', '307'], priv, date1, location],
    [[':status', '200'], priv, date2, location, ['content-encoding', 'gzip'], cookie],
  ];
  const responseTables: Array<[Field[], number]> = [
    [[location, date1, priv, [':status', '302']], 222],
    [[[':status', '307'], location, date1, priv], 222],
    [[cookie, ['content-encoding', 'gzip'], date2], 215],
  ];

  it('C.5: responses without Huffman coding, evicting from a 256-octet table', () => {
    const blocks = [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ];
    checkSequence(new HpackDecoder(256), blocks, responses, responseTables);
  });

  it('C.6: responses with Huffman coding, evicting from a 256-octet table', () => {
    const blocks = [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ];
    checkSequence(new HpackDecoder(256), blocks, responses, responseTables);
  });
});

describe('Huffman code', () => {
  it('reproduces codes from the RFC 7541 Appendix B table', () => {
    // [symbol, code as hex, length], copied from the RFC's table.
    const rfc: Array<[number, number, number]> = [
      [48, 0x0, 5], [97, 0x3, 5], [116, 0x9, 5], [32, 0x14, 6], [58, 0x5c, 7], [38, 0xf8, 8],
      [33, 0x3f8, 10], [35, 0xffa, 12], [0, 0x1ff8, 13], [126, 0x1ffd, 13], [60, 0x7ffc, 15],
      [92, 0x7fff0, 19], [128, 0xfffe6, 20], [1, 0x7fffd8, 23], [135, 0x7fffd9, 23], [9, 0xffffea, 24],
      [199, 0x1ffffec, 25], [255, 0x3ffffee, 26], [203, 0x7ffffde, 27], [2, 0xfffffe2, 28],
      [127, 0xffffffc, 28], [249, 0xffffffe, 28], [10, 0x3ffffffc, 30], [22, 0x3ffffffe, 30],
      [256, 0x3fffffff, 30],
    ];
    for (const [symbol, code, bits] of rfc) expect({ symbol, ...huffmanCode(symbol) }).toEqual({ symbol, code, bits });
  });

  it('decodes every byte value and a long string', () => {
    const all = bytes(0, 255);
    const block = Buffer.concat([Buffer.from([0x00]), literal('x-all'), literal(all, true)]);
    expect(decodeAll(new HpackDecoder(), block)).toEqual([['x-all', all.toString('latin1')]]);
    const long = Buffer.from('0123456789abcdef'.repeat(300)); // a 4800-byte value: a larger scratch buffer
    expect(decodeAll(new HpackDecoder(), Buffer.concat([Buffer.from([0x00]), literal('x-long'), literal(long, true)]))).toEqual([['x-long', long.toString('latin1')]]);
  });

  it('is decoded by nghttp2 (a node:http2 server) for every byte it accepts in a value', async () => {
    // nghttp2 rejects values with control characters (and leading or trailing whitespace), so
    // this covers 0x09, 0x20-0x7e and 0x80-0xff, each value wrapped in 'a'.
    const values: Field[] = [
      ['x-printable', `a${bytes(0x20, 0x7e).toString('latin1')}\ta`],
      ['x-latin1', `a${bytes(0x80, 0xff).toString('latin1')}a`],
    ];
    const server = http2.createServer();
    const received = new Promise<http2.IncomingHttpHeaders>((resolve) => {
      server.on('stream', (stream, headers) => {
        resolve(headers);
        stream.respond({ ':status': 200 }, { endStream: true });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    socket.on('error', () => {});
    const block = Buffer.concat([
      hex('82 86 84 01'), // GET, http, /, :authority (indexed name, literal value)
      literal('localhost', true),
      ...values.map(([name, value]) => Buffer.concat([Buffer.from([0x00]), literal(name, true), literal(value, true)])),
    ]);
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(0x4, 0, 0, Buffer.alloc(0)), frame(0x1, 0x5, 1, block)]));
    try {
      const headers = await received;
      for (const [name, value] of values) expect(headers[name]).toBe(value);
      expect(headers[':authority']).toBe('localhost');
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});


/**
 * Just enough of an HTTP/2 server to capture a client's header blocks: it answers the client's
 * SETTINGS and collects HEADERS (+ CONTINUATION) payloads without padding and priority fields.
 */
async function captureHeaderBlocks(send: (port: number) => void, count: number): Promise<Buffer[]> {
  const blocks: Buffer[] = [];
  let done!: () => void;
  const captured = new Promise<void>((resolve) => (done = resolve));
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write(frame(0x4, 0, 0, Buffer.alloc(0)));
    let pending = Buffer.alloc(0);
    let prefaceSeen = false;
    let partial: Buffer[] | undefined;
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      if (!prefaceSeen) {
        if (pending.length < 24) return;
        expect(pending.subarray(0, 24).toString('latin1')).toBe('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        pending = pending.subarray(24);
        prefaceSeen = true;
      }
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        const type = pending[3];
        const flags = pending[4];
        let payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === 0x4 && !(flags & 0x1)) socket.write(frame(0x4, 0x1, 0, Buffer.alloc(0)));
        if (type === 0x1) {
          if (flags & 0x8) payload = payload.subarray(1, payload.length - payload[0]);
          if (flags & 0x20) payload = payload.subarray(5);
          partial = [];
        }
        if (type === 0x1 || type === 0x9) {
          partial!.push(Buffer.from(payload));
          if (flags & 0x4) {
            blocks.push(Buffer.concat(partial!));
            partial = undefined;
            if (blocks.length === count) done();
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    send((server.address() as net.AddressInfo).port);
    await captured;
    return blocks;
  } finally {
    server.close();
  }
}

describe('against node:http2 (nghttp2) client header blocks', () => {
  it('decodes every block of one session exactly, through dynamic table hits and evictions', async () => {
    // node sends every byte 0x01-0xff unchanged (a NUL turns the whole field into '\0: \0').
    const control = `${bytes(0x01, 0x1f).toString('latin1')}\x7f`;
    const printable = `${bytes(0x20, 0x7e).toString('latin1')}\t!`;
    const latin1 = bytes(0x80, 0xff).toString('latin1');
    const requests = Array.from({ length: 6 }, (_, i) => ({
      ':method': 'POST',
      ':path': `/pitstop.Test/Get${i % 2}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      'User-Agent': 'pitstop-test/1.0',
      'X-Printable': printable,
      'x-latin1': latin1,
      'x-control': control,
      'x-multi': ['one', 'two', 'one'],
      'x-request': `request-${i}`,
      // ~700 bytes each so that the 4096-octet table has to evict.
      'x-filler': `${'f'.repeat(700)}${i}`,
    }));
    const client: { port?: number; session?: http2.ClientHttp2Session } = {};
    const blocks = await captureHeaderBlocks((port) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      Object.assign(client, { port, session });
      session.on('error', () => {});
      for (const headers of requests) session.request(headers, { endStream: true }).on('error', () => {});
    }, requests.length);
    client.session?.destroy();

    const decoder = new HpackDecoder();
    blocks.forEach((block, i) => {
      const fields = decodeAll(decoder, block);
      const pseudo = Object.fromEntries(fields.filter(([name]) => name.startsWith(':')));
      expect(pseudo).toEqual({ ':method': 'POST', ':path': `/pitstop.Test/Get${i % 2}`, ':scheme': 'http', ':authority': `127.0.0.1:${client.port}` });
      const expected = Object.entries(requests[i])
        .filter(([name]) => !name.startsWith(':'))
        .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v): Field => [name.toLowerCase(), v]));
      expect(fields.filter(([name]) => !name.startsWith(':'))).toEqual(expected);
    });
    // Evidence that the blocks used what is under test: Huffman (the user agent never appears
    // raw), the dynamic table (it holds entries) and eviction (the first filler is gone).
    expect(blocks[0].includes('pitstop-test/1.0')).toBe(false);
    const table = decoder.dynamicEntries();
    expect(table.length).toBeGreaterThan(3);
    expect(table.some(([, value]) => value === `${'f'.repeat(700)}0`)).toBe(false);
    expect(decoder.dynamicTableSize).toBeLessThanOrEqual(4096);
  });
});

describe('malformed header blocks', () => {
  it('rejects index 0 and indexes beyond the tables', () => {
    expect(decodeError(new HpackDecoder(), hex('80')).message).toMatch(/index 0/);
    expect(decodeError(new HpackDecoder(), hex('be')).message).toBe('index 62 is beyond the tables (61 static + 0 dynamic)');
    const decoder = new HpackDecoder();
    decodeAll(decoder, hex('400161 0162 400161 0163 400161 0164')); // three entries
    expect(decodeAll(decoder, hex('be c0'))).toEqual([['a', 'd'], ['a', 'b']]); // newest is 62
    expect(decodeError(decoder, hex('c5')).message).toBe('index 69 is beyond the tables (61 static + 3 dynamic)');
    // an indexed name in a literal too
    expect(decodeError(new HpackDecoder(), hex('7f00 0161')).message).toBe('index 63 is beyond the tables (61 static + 0 dynamic)');
  });

  it('accepts table size updates up to the setting, only at the start of a block', () => {
    const decoder = new HpackDecoder(4096);
    expect(decodeAll(decoder, hex('3fe11f 82'))).toEqual([[':method', 'GET']]); // 4096
    expect(decodeError(decoder, hex('3fe21f')).message).toBe('dynamic table size update to 4097 exceeds SETTINGS_HEADER_TABLE_SIZE 4096');
    expect(decodeError(new HpackDecoder(), hex('82 20')).message).toMatch(/size update after a header field/);
    // two updates at the start are allowed (RFC 7541 section 4.2); 0 empties the table
    const small = new HpackDecoder();
    decodeAll(small, hex('400161 0162'));
    expect(decodeAll(small, hex('20 3f11 82'))).toEqual([[':method', 'GET']]);
    expect(small.dynamicTableSize).toBe(0);
  });

  it('requires a size update after our setting is lowered', () => {
    const decoder = new HpackDecoder();
    decodeAll(decoder, hex('400161 0162'));
    decoder.setMaxTableSize(0);
    expect(decodeError(decoder, hex('82')).message).toMatch(/expected a dynamic table size update/);
    const next = new HpackDecoder();
    decodeAll(next, hex('400161 0162'));
    next.setMaxTableSize(0);
    expect(decodeAll(next, hex('20 82'))).toEqual([[':method', 'GET']]);
    expect(next.dynamicTableSize).toBe(0);
    expect(decodeError(next, hex('21')).message).toMatch(/exceeds SETTINGS_HEADER_TABLE_SIZE 0/);
    next.setMaxTableSize(8192);
    expect(decodeAll(next, hex('3fe13f 400161 0162'))).toEqual([['a', 'b']]); // 8192
  });

  it('rejects truncated and overlong integers', () => {
    expect(decodeError(new HpackDecoder(), hex('ff')).message).toMatch(/ends inside an integer/);
    expect(decodeError(new HpackDecoder(), hex('ff 80')).message).toMatch(/ends inside an integer/);
    expect(decodeError(new HpackDecoder(), hex('ff ff ff ff ff 0f')).message).toMatch(/exceeds 2\^31/);
    expect(decodeError(new HpackDecoder(), hex('ff 80 80 80 80 80 00')).message).toMatch(/more than 6 bytes/);
    // 2^31 - 1 itself is a valid integer (here an index, so it is beyond the tables)
    expect(decodeError(new HpackDecoder(), Buffer.concat([int(0x80, 7, 2 ** 31 - 1)])).message).toMatch(/index 2147483647 is beyond/);
  });

  it('rejects truncated strings', () => {
    expect(decodeError(new HpackDecoder(), hex('40 05 6162')).message).toBe('string literal of 5 bytes overruns the header block by 3');
    expect(decodeError(new HpackDecoder(), hex('40 0161')).message).toMatch(/ends before a string literal/);
    expect(decodeError(new HpackDecoder(), hex('0f01 7f')).message).toMatch(/ends inside an integer/);
  });

  it('rejects bad Huffman padding and EOS', () => {
    // 'a' is 00011: padded with 111 it is 0x1f
    expect(decodeAll(new HpackDecoder(), hex('00 81 1f 00'))).toEqual([['a', '']]);
    expect(decodeError(new HpackDecoder(), hex('00 82 1fff 00')).message).toBe('Huffman string has padding longer than 7 bits');
    expect(decodeError(new HpackDecoder(), hex('00 81 18 00')).message).toMatch(/padding is not a prefix of EOS/);
    expect(decodeError(new HpackDecoder(), hex('00 81 ff 00')).message).toBe('Huffman string has padding longer than 7 bits');
    // EOS (30 ones) then 2 padding bits; and 'a' EOS 'a'
    expect(decodeError(new HpackDecoder(), hex('00 84 ffffffff 00')).message).toBe('Huffman string contains the EOS symbol');
    expect(decodeError(new HpackDecoder(), hex('00 85 1fffffffe3 00')).message).toBe('Huffman string contains the EOS symbol');
  });

  it('caps the header list size (name + value + 32 per field)', () => {
    const block = hex('400161 0162 be be'); // a: b three times, 34 octets each
    expect(decodeAll(new HpackDecoder(4096, { maxHeaderListBytes: 102 }), block)).toHaveLength(3);
    const seen: Field[] = [];
    const err = (() => {
      try {
        new HpackDecoder(4096, { maxHeaderListBytes: 101 }).decode(block, (n, v) => seen.push([n, v]));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(HpackError);
    expect((err as Error).message).toBe('header list exceeds 101 bytes');
    expect(seen).toHaveLength(2);
  });
});

describe('HpackEncoder', () => {
  const encoder = new HpackEncoder();

  it('uses static indexes and raw literals without indexing', () => {
    expect(encoder.encode([[':status', '200']])).toEqual(hex('88'));
    expect(encoder.encode([[':method', 'POST'], [':path', '/'], ['accept-encoding', 'gzip, deflate']])).toEqual(hex('83 84 90'));
    expect(encoder.encode([[':status', '418']])).toEqual(hex('08 03 343138'));
    expect(encoder.encode([['content-type', 'application/grpc']])).toEqual(Buffer.concat([hex('0f10 10'), Buffer.from('application/grpc')]));
    expect(encoder.encode([['grpc-status', '0']])).toEqual(Buffer.concat([hex('00 0b'), Buffer.from('grpc-status'), hex('01 30')]));
  });

  it('round-trips through the decoder, latin1 bytes and long values included, leaving no table state', () => {
    const headers: Field[] = [
      [':status', '200'],
      ['content-type', 'application/grpc+proto'],
      ['grpc-status', '3'],
      ['grpc-message', 'bad%20request'],
      ['x-latin1', bytes(0x80, 0xff).toString('latin1')],
      ['x-long', 'v'.repeat(300)],
      ['x-empty', ''],
      ['date', ''],
    ];
    const decoder = new HpackDecoder();
    const once = encoder.encode(headers);
    expect(decodeAll(decoder, once)).toEqual(headers);
    expect(decoder.dynamicTableSize).toBe(0);
    expect(encoder.encode(headers)).toEqual(once);
    expect(new HpackEncoder().encode(headers)).toEqual(once);
    // a returned block is the caller's: encoding again does not overwrite it
    const cached = encoder.encode([[':status', '418']]);
    encoder.encode(headers);
    expect(cached).toEqual(hex('08 03 343138'));
  });

  it('rejects uppercase names and values that are not latin1', () => {
    expect(() => encoder.encode([['Content-Type', 'x']])).toThrow(/must be lowercase/);
    expect(() => encoder.encode([['x-a', 'caf\u00e9 \u2603']])).toThrow(/not latin1/);
  });
});
