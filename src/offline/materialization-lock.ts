/**
 * One materialization at a time per view version: a lock file in the view version's offline
 * directory, created exclusively (`wx`), holding the owner's pid, host, start time and a random
 * token. A second run finds it and fails with MATERIALIZATION_LOCKED before changing anything.
 *
 * A lock whose pid no longer runs on this host (a crashed or killed run) is stale and is taken
 * over: renamed aside under a unique name, checked to be the very lock judged stale (else put
 * back, and the run fails as locked), then the new lock is created exclusively. A lock from
 * another host is never judged stale (its pid means nothing here): remove it by hand when no run
 * is in progress.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PitstopError } from '../core/errors.ts';

export const LOCK_FILE = '_materialize.lock';

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  token: string;
}

export interface MaterializationLock {
  file: string;
  info: LockInfo;
  /** Removes the lock if it is still this run's. */
  release(): void;
}

export function lockFile(dir: string): string {
  return path.join(dir, LOCK_FILE);
}

/** Takes the lock of the view version whose directory is `dir` (which must exist). */
export function acquireMaterializationLock(dir: string, label: string): MaterializationLock {
  const file = lockFile(dir);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, info)) return { file, info, release: () => release(file, info.token) };
    const held = readLock(file);
    if (held === 'gone') continue; // released meanwhile: try again
    if (held !== 'unreadable' && !isStale(held)) throw locked(label, file, held);
    if (held === 'unreadable' && !olderThan(file, 10_000)) throw locked(label, file, undefined); // being written right now
    if (!takeOver(file, held)) throw locked(label, file, readLockOrUndefined(file));
  }
  throw locked(label, file, readLockOrUndefined(file));
}

function tryCreate(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new PitstopError('SOURCE_UNREADABLE', `cannot create the materialization lock ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    writeSync(fd, `${JSON.stringify(info)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readLock(file: string): LockInfo | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.startedAt === 'string' && typeof v.token === 'string') return v as LockInfo;
  } catch {
    // fall through
  }
  return 'unreadable';
}

function readLockOrUndefined(file: string): LockInfo | undefined {
  const l = readLock(file);
  return typeof l === 'string' ? undefined : l;
}

function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > ms;
  } catch {
    return true;
  }
}

/** The owner is gone: same host and no process with that pid. */
function isStale(l: LockInfo): boolean {
  if (l.host !== os.hostname()) return false;
  if (l.pid === process.pid) return false; // this process holds it (another store in this process)
  try {
    process.kill(l.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Moves the stale lock aside if it is still the one judged stale; false when another run got there first. */
function takeOver(file: string, stale: LockInfo | 'unreadable'): boolean {
  const aside = `${file}.stale-${randomBytes(6).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true; // already removed: create again
    throw e;
  }
  const moved = readLock(aside);
  const same = stale === 'unreadable' ? moved === 'unreadable' : typeof moved === 'object' && moved.token === stale.token;
  if (same) {
    rmSync(aside, { force: true });
    return true;
  }
  // We moved a fresh lock another run had just created: put it back (unless a third run has
  // created one since), and let that run have it.
  try {
    linkSync(aside, file);
  } catch {
    // a newer lock is in place
  }
  rmSync(aside, { force: true });
  return false;
}

function release(file: string, token: string): void {
  const l = readLock(file);
  if (typeof l === 'object' && l.token === token) {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
}

function locked(label: string, file: string, l: LockInfo | undefined): PitstopError {
  const who = l ? `pid ${l.pid} on ${l.host}, started ${l.startedAt}` : 'an unknown run (the lock file is being written or is unreadable)';
  return new PitstopError('MATERIALIZATION_LOCKED', `${label}: another materialize-offline run holds ${file} (${who}); nothing was changed. Wait for it to finish; if no run is in progress, delete the lock file`);
}
