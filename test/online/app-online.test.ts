/**
 * The composition root picks the adapter from config, and the embedded store persists across
 * processes (a child process writes, this one reads).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../src/config/load.ts';
import { openOnlineReader, openOnlineStore, type OnlineStore } from '../../src/app/online.ts';
import type { ReadCacheStatsSource } from '../../src/online/ports.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { decodeRow } from '../../src/online/row-codec.ts';
import { startRedis } from '../support/redis-server.ts';
import { keyList } from '../support/key-list.ts';

const repo = mkdtempSync(path.join(os.tmpdir(), 'pitstop-app-online-'));
afterAll(() => rmSync(repo, { recursive: true, force: true }));
const key = encodeEntityKey([{ name: 'id', type: 'int64' }], [7]);

describe('openOnlineStore', () => {
  it('embedded: what one process writes, another reads', async () => {
    const config = resolveConfig(repo, { project: 'p' });
    const script = `
      import { resolveConfig } from ${JSON.stringify(path.resolve('src/config/load.ts'))};
      import { openOnlineWriter } from ${JSON.stringify(path.resolve('src/app/online.ts'))};
      import { RowEncoder } from ${JSON.stringify(path.resolve('src/online/row-codec.ts'))};
      import { encodeEntityKey } from ${JSON.stringify(path.resolve('src/online/entity-key.ts'))};
      const w = await openOnlineWriter(resolveConfig(${JSON.stringify(repo)}, { project: 'p' }));
      const row = new RowEncoder([{ name: 'x', type: 'string' }]).encode(5, null, ['from child']);
      await w.writeRows([{ view: 'v@1', entity: encodeEntityKey([{ name: 'id', type: 'int64' }], [7]), row }]);
      await w.close();`;
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'inherit' });
    const reader = await openOnlineReader(config);
    try {
      const rows = await reader.readRows({ views: ['v@1'], entityKeys: [keyList([key])] });
      expect(decodeRow(rows[0][0]!, 1).values).toEqual(['from child']);
    } finally {
      await reader.close();
    }
  });

  it('redis: chosen by config (PITSTOP_REDIS_URL form)', async () => {
    const server = await startRedis();
    try {
      const store = await openOnlineStore(resolveConfig(repo, { project: 'p', online_store: { type: 'redis', url: server.url } }));
      await store.ping();
      expect((await store.readRows({ views: ['v@1'], entityKeys: [keyList([key])] }))[0][0]).toBeNull();
      await store.close();
    } finally {
      await server.stop();
    }
  });

  it('redis: near_cache_mb gives a serving store a near cache, and a CLI store none', async () => {
    const server = await startRedis();
    try {
      const config = resolveConfig(repo, { project: 'p', online_store: { type: 'redis', url: server.url, near_cache_mb: 8 } });
      const serving = (await openOnlineStore(config, { serving: true })) as OnlineStore & Partial<ReadCacheStatsSource>;
      const cli = (await openOnlineStore(config)) as OnlineStore & Partial<ReadCacheStatsSource>;
      try {
        expect(serving.nearCacheStats?.()).toMatchObject({ maxBytes: 8 * 1024 * 1024, entries: 0 });
        expect(cli.nearCacheStats?.()).toBeUndefined();
      } finally {
        await serving.close();
        await cli.close();
      }
    } finally {
      await server.stop();
    }
  });
});
