/** DuckDB settings come from pitstop.yaml's offline section, through the composition root. */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openOfflineStore } from '../../src/app/offline.ts';
import { resolveConfig } from '../../src/config/load.ts';
import { sql } from '../../src/offline/sql.ts';
import { tempDir } from './support/data.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('openOfflineStore', () => {
  it('applies memory_limit, threads and temp_directory, and runs in UTC', async () => {
    const config = resolveConfig(tmp.dir, { project: 'p', offline: { memory_limit: '512MB', threads: 1, temp_directory: 'spill', data_dir: 'off' } });
    const store = await openOfflineStore(config);
    try {
      const [r] = await store.session.all(sql`SELECT current_setting('memory_limit') AS mem, current_setting('threads') AS threads, current_setting('temp_directory') AS tmp, current_setting('TimeZone') AS tz`);
      expect(r.mem).toMatch(/^(488\.2 MiB|512\.0 MB|0\.5 GiB|488 MiB)$/);
      expect(Number(r.threads)).toBe(1);
      expect(r.tmp).toBe(path.join(tmp.dir, 'spill'));
      expect(r.tz).toBe('UTC');
      expect(existsSync(path.join(tmp.dir, 'spill'))).toBe(true);
      expect(store.locations.offlineDataDir).toBe(path.join(tmp.dir, 'off'));
    } finally {
      await store.close();
    }
  });
});
