/** The written spec and the code agree on the format versions and the row header offsets. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENTITY_KEY_FORMAT, ONLINE_STORAGE_FORMAT_VERSION, ROW_FORMAT_VERSION } from '../../src/online/storage-format.ts';
import { ROW_CREATED_TS_OFFSET, ROW_EVENT_TS_OFFSET, ROW_HEADER_BYTES } from '../../src/online/row-codec.ts';
import { WRITE_ROWS_LUA } from '../../src/online/redis/write-script.ts';

const spec = readFileSync('docs/online-storage-format.md', 'utf8');

describe('docs/online-storage-format.md', () => {
  it('states the versions the code writes', () => {
    expect(spec).toContain(`Format version: ${ONLINE_STORAGE_FORMAT_VERSION} `);
    expect(spec).toContain(`ROW_FORMAT_VERSION = ${ROW_FORMAT_VERSION}`);
    expect(spec).toContain(`ENTITY_KEY_FORMAT = ${ENTITY_KEY_FORMAT}`);
  });
  it('documents the header offsets the Lua script reads', () => {
    expect(spec).toContain(`offset ${ROW_EVENT_TS_OFFSET}    f64 LE   event timestamp`);
    expect(spec).toContain(`offset ${ROW_CREATED_TS_OFFSET}    f64 LE   created timestamp`);
    expect(spec).toContain(`offset ${ROW_HEADER_BYTES}   for each feature`);
    // Lua strings are 1-based: the header starts at position offset + 1.
    expect(WRITE_ROWS_LUA).toContain(`unpack('<dd', cur, ${ROW_EVENT_TS_OFFSET + 1})`);
    expect(WRITE_ROWS_LUA).toContain(`unpack('<dd', row, ${ROW_EVENT_TS_OFFSET + 1})`);
  });
});
