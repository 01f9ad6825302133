/**
 * One materialize-offline run per view version at a time: a held lock makes another run fail
 * with MATERIALIZATION_LOCKED before anything changes; a lock left by a dead process is taken
 * over; the lock is gone after a run (also a failed one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { PitstopError } from '../../src/core/errors.ts';
import { lockFile } from '../../src/offline/materialization-lock.ts';
import { materializedDir } from '../../src/offline/materialization-manifest.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { tempDir, writeBulk } from './support/data.ts';
import { openStore } from './support/retrieve.ts';

const tmp = tempDir();
let store: DuckDBOfflineStore;
let other: DuckDBOfflineStore;
const snap = buildSnapshot({
  views: [{ name: 'rides', entities: { driver: { driver_id: 'int64' } }, ttlMs: 0, source: { path: 'rides.parquet', timestampField: 'ts' }, features: { n: 'int64' } }],
});
const view = snap.featureViews.rides.versions[0];
const dir = () => materializedDir(path.join(tmp.dir, 'offline'), view);

/** Every file under the view version's directory with its size and mtime. */
function tree(d = dir()): string[] {
  return readdirSync(d, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .map((f) => `${path.relative(d, f)} ${statSync(f).size} ${statSync(f).mtimeMs}`)
    .sort();
}

async function writeSource(n: number): Promise<void> {
  await writeBulk(path.join(tmp.dir, 'rides.parquet'), [['driver_id', 'BIGINT'], ['ts', 'TIMESTAMPTZ'], ['n', 'BIGINT']],
    [[1, '2024-03-01T10:00:00Z', n], [2, '2024-03-02T10:00:00Z', n + 1]]);
}

async function reason(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof PitstopError ? e.reason : String(e);
  }
}

beforeAll(async () => {
  store = await openStore(tmp.dir);
  other = await openStore(tmp.dir);
  await writeSource(1);
  await store.materializeOffline(view);
});
afterAll(async () => {
  await store?.close();
  await other?.close();
  tmp.cleanup();
});

describe('materialization lock', () => {
  it('leaves no lock behind after a run', () => {
    expect(existsSync(lockFile(dir()))).toBe(false);
  });

  it('a lock held by a live process fails the run with MATERIALIZATION_LOCKED and changes nothing', async () => {
    await writeSource(100); // a run would rewrite partitions and the manifest
    const lock = { pid: process.ppid, host: os.hostname(), startedAt: '2026-11-28T10:00:00.000Z', token: 'held' };
    writeFileSync(lockFile(dir()), JSON.stringify(lock));
    const before = tree();
    let err: PitstopError | undefined;
    try {
      await store.materializeOffline(view);
    } catch (e) {
      err = e as PitstopError;
    }
    expect(err?.reason).toBe('MATERIALIZATION_LOCKED');
    expect(err?.message).toContain(`pid ${process.ppid}`);
    expect(err?.message).toContain(lockFile(dir()));
    expect(tree()).toEqual(before);
    expect(JSON.parse(readFileSync(lockFile(dir()), 'utf8'))).toEqual(lock); // not touched
  });

  it('a lock from another host is never taken over', async () => {
    writeFileSync(lockFile(dir()), JSON.stringify({ pid: 999_999_999, host: `not-${os.hostname()}`, startedAt: '2026-11-28T10:00:00.000Z', token: 'remote' }));
    expect(await reason(store.materializeOffline(view))).toBe('MATERIALIZATION_LOCKED');
  });

  it('a stale lock (its process is gone) is taken over, and released after the run', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(lockFile(dir()), JSON.stringify({ pid: dead, host: os.hostname(), startedAt: '2026-11-28T09:00:00.000Z', token: 'stale' }));
    const r = await store.materializeOffline(view);
    expect(r.rows).toBe(2);
    expect(existsSync(lockFile(dir()))).toBe(false);
    expect(readdirSync(dir()).filter((f) => f.includes('.lock'))).toEqual([]);
  });

  it('two runs at once on one view version: one runs, the other fails as locked', async () => {
    const results = await Promise.all([reason(store.materializeOffline(view)), reason(other.materializeOffline(view))]);
    expect(results.sort()).toEqual(['MATERIALIZATION_LOCKED', undefined]);
    expect(existsSync(lockFile(dir()))).toBe(false);
  });

  it('releases the lock when the run fails', async () => {
    writeFileSync(path.join(tmp.dir, 'rides.parquet'), 'not parquet');
    expect(await reason(store.materializeOffline(view))).toBe('SOURCE_UNREADABLE');
    expect(existsSync(lockFile(dir()))).toBe(false);
  });
});
