/**
 * One materialize-offline run per view version at a time: a held lock makes another run fail
 * with MATERIALIZATION_LOCKED before anything changes; a lock left by a dead process is taken
 * over; the lock is gone after a run (also a failed one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { PitstopError } from '../../src/core/errors.ts';
import { acquireMaterializationLock, lockFile, type LockSteps, type MaterializationLock } from '../../src/offline/materialization-lock.ts';
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

/**
 * The takeover of a stale lock, interleaved step by step over real files: each run is one call
 * of acquireMaterializationLock, and another run is started from inside its step callbacks
 * (after it judged the lock stale, or while it holds the takeover claim), so every ordering below
 * is exact and repeatable. Whatever the order, at most one run may hold the lock.
 */
describe('materialization lock: concurrent takeovers of a stale lock', () => {
  let n = 0;
  const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;
  /** A fresh view version directory holding a lock left by a dead process. */
  function staleDir(): string {
    const d = path.join(tmp.dir, 'takeover', String(++n));
    mkdirSync(d, { recursive: true });
    writeFileSync(lockFile(d), JSON.stringify({ pid: deadPid(), host: os.hostname(), startedAt: '2026-11-28T09:00:00.000Z', token: `stale${n}` }));
    return d;
  }
  type Outcome = { lock: MaterializationLock } | { reason: string; message: string };
  const run = (d: string, steps: LockSteps = {}): Outcome => {
    try {
      return { lock: acquireMaterializationLock(d, 'test', steps) };
    } catch (e) {
      return { reason: (e as PitstopError).reason, message: (e as Error).message };
    }
  };
  /** Exactly one run holds the lock, and the lock file is that run's; no takeover files remain. */
  function expectOneHolder(d: string, outcomes: Outcome[]): MaterializationLock {
    const holders = outcomes.flatMap((o) => ('lock' in o ? [o.lock] : []));
    expect(holders).toHaveLength(1);
    expect(outcomes.filter((o) => 'reason' in o).map((o) => (o as { reason: string }).reason)).toEqual(Array(outcomes.length - 1).fill('MATERIALIZATION_LOCKED'));
    expect(JSON.parse(readFileSync(lockFile(d), 'utf8')).token).toBe(holders[0].info.token);
    expect(readdirSync(d).filter((f) => f !== '_materialize.lock')).toEqual([]);
    return holders[0];
  }

  it('two runs judge the lock stale; the first takes it over before the second claims: the second finds it held', () => {
    const d = staleDir();
    let b: Outcome | undefined;
    const a = run(d, { judgedStale: () => { b = run(d); } });
    const held = expectOneHolder(d, [a, b!]);
    expect(held).toBe((b as { lock: MaterializationLock }).lock);
    held.release();
    expect(existsSync(lockFile(d))).toBe(false);
  });

  it('a run that finds the takeover claimed by a live run fails as locked; the claimant takes the lock', () => {
    const d = staleDir();
    let b: Outcome | undefined;
    const a = run(d, { claimed: () => { b = run(d); } });
    expect(expectOneHolder(d, [a, b!])).toBe((a as { lock: MaterializationLock }).lock);
    expect((b as { message: string }).message).toContain('taking the stale lock over');
  });

  it('three runs on one stale lock, each judging it stale before the next completes: one holder', () => {
    // The corner the rename-aside protocol lost: A and B judged the lock stale, C took it over
    // first; B's late takeover must neither move C's fresh lock aside nor let A in.
    const d = staleDir();
    let b: Outcome | undefined;
    let c: Outcome | undefined;
    const a = run(d, { judgedStale: () => { b = run(d, { judgedStale: () => { c = run(d); } }); } });
    expect(expectOneHolder(d, [a, b!, c!])).toBe((c as { lock: MaterializationLock }).lock);
  });

  it('a late takeover holds its claim while a third run starts: the run that took the lock over first keeps it', () => {
    // Exactly the order in which the old protocol (move the lock aside, check, put it back) let
    // two runs in: B judged the lock stale, A took it over meanwhile, B moved A's fresh lock aside
    // and, while it was missing, C created its own; B's put-back failed and A's lock was lost.
    const d = staleDir();
    let a: Outcome | undefined;
    let c: Outcome | undefined;
    const b = run(d, { judgedStale: () => { a = run(d); }, claimed: () => { c = run(d); } });
    expect(expectOneHolder(d, [a!, b, c!])).toBe((a as { lock: MaterializationLock }).lock);
  });

  it('three runs while the first holds the claim: only the claimant holds the lock', () => {
    const d = staleDir();
    let b: Outcome | undefined;
    let c: Outcome | undefined;
    const a = run(d, { claimed: () => { b = run(d, { judgedStale: () => { c = run(d); } }); } });
    expect(expectOneHolder(d, [a, b!, c!])).toBe((a as { lock: MaterializationLock }).lock);
  });

  it('a run released in between: a late takeover finds a new live lock and fails as locked', () => {
    const d = staleDir();
    let b: Outcome | undefined;
    let c: Outcome | undefined;
    const a = run(d, {
      judgedStale: () => {
        b = run(d);
        (b as { lock: MaterializationLock }).lock.release(); // B's run ended
        c = run(d); // a new run takes the free lock the ordinary way
      },
    });
    expect(expectOneHolder(d, [a, c!])).toBe((c as { lock: MaterializationLock }).lock);
  });

  it('a claimant killed mid-takeover (its claim left behind) does not block: its claim is claimed in turn', () => {
    const d = staleDir();
    const stale = JSON.parse(readFileSync(lockFile(d), 'utf8')).token as string;
    writeFileSync(`${lockFile(d)}.takeover-${stale}`, JSON.stringify({ pid: deadPid(), host: os.hostname(), startedAt: '2026-11-28T09:00:01.000Z', token: 'deadclaim' }));
    let b: Outcome | undefined;
    const a = run(d, { claimed: () => { b = run(d); } }); // B meets A's live claim one level down
    expect(expectOneHolder(d, [a, b!])).toBe((a as { lock: MaterializationLock }).lock);
  });

  it('an empty claim (killed while writing it) blocks only while it is fresh', () => {
    const d = staleDir();
    const stale = JSON.parse(readFileSync(lockFile(d), 'utf8')).token as string;
    const claim = `${lockFile(d)}.takeover-${stale}`;
    writeFileSync(claim, '');
    const fresh = run(d);
    expect('reason' in fresh && fresh.reason).toBe('MATERIALIZATION_LOCKED');
    const old = new Date(Date.now() - 60_000);
    utimesSync(claim, old, old);
    expectOneHolder(d, [run(d)]);
  });
});
