import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PitstopError } from '../../src/core/errors.ts';
import type { RegistrySnapshot } from '../../src/core/registry-model.ts';
import { FileRegistryStore } from '../../src/registry/file-store.ts';
import { snapshotHash } from '../../src/registry/snapshot-hash.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { ROOT, tempDir, writeRepo, BASE_DEFS } from '../cli/helpers.ts';
import { applyRepository } from '../../src/registry/workflow.ts';

const run = promisify(execFile);

let dir: string;
let cleanup: () => Promise<void>;
let store: FileRegistryStore;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  store = await FileRegistryStore.create(path.join(dir, '.pitstop/registry'));
});
afterEach(async () => {
  await store.close();
  await cleanup();
});

/** Snapshot `version` on top of `parent`, with content that differs per `tag`. */
function next(parent: RegistrySnapshot | undefined, tag = 'a'): RegistrySnapshot {
  const base = buildSnapshot({ views: [{ name: `v_${tag}`, entities: { rider: { rider_id: 'int64' } }, source: { path: 'data/x.parquet' }, features: { f: 'int64' } }] });
  const body = { ...base, version: (parent?.version ?? 0) + 1, parentHash: parent?.hash ?? null, createdAt: new Date().toISOString() };
  return { ...body, hash: snapshotHash(body) };
}

describe('file registry store', () => {
  it('stores immutable versions and reads them back verified', async () => {
    expect(await store.latest()).toBeUndefined();
    expect(await store.history()).toEqual([]);
    const s1 = next(undefined);
    await store.commit(s1);
    const s2 = next(s1, 'b');
    await store.commit(s2);
    const fresh = await FileRegistryStore.create(store.dir);
    expect(await fresh.latest()).toEqual(s2);
    expect(await fresh.get(1)).toEqual(s1);
    expect((await fresh.history()).map((h) => [h.version, h.hash])).toEqual([[1, s1.hash], [2, s2.hash]]);
    expect(await readdir(path.join(store.dir, 'versions'))).toEqual(['000001.json', '000002.json']);
    await expect(fresh.get(3)).rejects.toMatchObject({ reason: 'REGISTRY_VERSION_NOT_FOUND' });
  });

  it('detects a tampered version file on load (REGISTRY_CORRUPT)', async () => {
    await store.commit(next(undefined));
    const file = path.join(store.dir, 'versions/000001.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"int64"', '"int32"'));
    const fresh = await FileRegistryStore.create(store.dir);
    await expect(fresh.latest()).rejects.toMatchObject({ reason: 'REGISTRY_CORRUPT' });
    await writeFile(file, '{ half a file');
    await expect(fresh.get(1)).rejects.toMatchObject({ reason: 'REGISTRY_CORRUPT' });
  });

  it('refuses a version compiled on a parent that is not the stored one', async () => {
    const s1 = next(undefined);
    await store.commit(s1);
    const stale = next(undefined, 'b'); // version 1 again
    await expect(store.commit(stale)).rejects.toMatchObject({ reason: 'REGISTRY_CONFLICT' });
    const skip = next({ ...s1, version: 2, hash: 'x'.repeat(64) }, 'c'); // version 3 on a missing parent
    await expect(store.commit(skip)).rejects.toMatchObject({ reason: 'REGISTRY_CONFLICT' });
    const wrongParent = next({ ...s1, hash: 'f'.repeat(64) }, 'd');
    await expect(store.commit(wrongParent)).rejects.toMatchObject({ reason: 'REGISTRY_CONFLICT' });
    expect((await store.history()).map((h) => h.version)).toEqual([1]);
  });

  it('lets exactly one of two concurrent writers of the same version win', async () => {
    const s1 = next(undefined);
    await store.commit(s1);
    const other = await FileRegistryStore.create(store.dir); // a second process, as far as caching goes
    const results = await Promise.allSettled([store.commit(next(s1, 'x')), other.commit(next(s1, 'y'))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as PitstopError).reason).toBe('REGISTRY_CONFLICT');
    expect((await store.history()).map((h) => h.version)).toEqual([1, 2]);
  });

  it('gives consecutive, chained versions when many writers retry on conflict', async () => {
    const writers = await Promise.all(Array.from({ length: 6 }, () => FileRegistryStore.create(store.dir)));
    await Promise.all(
      writers.map(async (w, i) => {
        for (;;) {
          const snapshot = next(await w.latest(), `w${i}`);
          try {
            return await w.commit(snapshot);
          } catch (e) {
            if ((e as PitstopError).reason !== 'REGISTRY_CONFLICT') throw e;
          }
        }
      }),
    );
    const history = await store.history();
    expect(history.map((h) => h.version)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const h of history.slice(1)) expect((await store.get(h.version)).parentHash).toBe(history[h.version - 2].hash);
    expect(await readdir(path.join(store.dir, 'tmp'))).toEqual([]);
  });

  it('survives a crash between temp write and publish: previous version intact, next apply fine', async () => {
    await writeRepo(dir, BASE_DEFS);
    const ctx = { repoDir: dir, project: 'testproj', store };
    const first = await applyRepository(ctx);
    expect(first.applied?.version).toBe(1);
    await writeRepo(dir, { ...BASE_DEFS, 'views.yaml': BASE_DEFS['views.yaml'].replace('ttl: 2h', 'ttl: 3h') });

    const child = await run(process.execPath, ['--import', 'tsx', 'test/registry/fixtures/crash-apply.ts', dir, store.dir], { cwd: ROOT }).then(
      () => ({ signal: null, stdout: '' }),
      (e: { signal: string; stdout: string }) => e,
    );
    expect(child.signal).toBe('SIGKILL');
    expect(child.stdout).toMatch(/^temp .*\.tmp$/m);
    expect(child.stdout).not.toContain('published');
    expect((await readdir(path.join(store.dir, 'tmp'))).length).toBe(1); // the orphan, never read

    const fresh = await FileRegistryStore.create(store.dir);
    expect((await fresh.latest())?.hash).toBe(first.applied?.hash);
    const again = await applyRepository({ ...ctx, store: fresh });
    expect(again.applied?.version).toBe(2);
    expect(again.applied?.featureViews.rider_stats.latest).toBe(2);
    expect((await fresh.history()).map((h) => h.version)).toEqual([1, 2]);
  }, 30_000);

  it('stores watermarks per view version, replaced atomically', async () => {
    expect(await store.getWatermark('rider_stats', 1)).toBeUndefined();
    await store.setWatermark('rider_stats', 1, 1_700_000_000_000);
    await store.setWatermark('rider_stats', 2, 5);
    await store.setWatermark('rider_stats', 1, 1_700_000_360_000);
    const fresh = await FileRegistryStore.create(store.dir);
    expect(await fresh.getWatermark('rider_stats', 1)).toBe(1_700_000_360_000);
    expect(await fresh.getWatermark('rider_stats', 2)).toBe(5);
    await expect(store.setWatermark('rider_stats', 1, Number.NaN)).rejects.toThrow(/not a number/);
    expect(await readdir(path.join(store.dir, 'tmp'))).toEqual([]);
  });
});
