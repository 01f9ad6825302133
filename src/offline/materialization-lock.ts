/**
 * One materialization at a time per view version: a lock file in the view version's offline
 * directory, created exclusively (`wx`), holding the owner's pid, host, start time and a random
 * token. A second run finds it and fails with MATERIALIZATION_LOCKED before changing anything.
 *
 * A lock whose pid no longer runs on this host (a crashed or killed run) is stale and is taken
 * over, and the takeover is itself exclusive: a run that judged the lock stale must first create
 * a claim file named after that lock (`_materialize.lock.takeover-<token>`, `wx`); only the claim's
 * holder may replace the lock, after checking it is still the one judged stale, by renaming its
 * own new lock file over it (atomic: the lock file never goes missing, and no fresh lock is ever
 * moved). A run that finds the claim held by a live process fails as locked; a claim left by a
 * dead process is claimed in turn (`.takeover-<that claim's token>`). So at most one run holds
 * the lock, however the runs interleave (`test/offline/materialization-lock.test.ts` drives the
 * interleavings step by step). A lock from another host is never judged stale (its pid means
 * nothing here): remove it by hand when no run is in progress.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
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

/**
 * Test seam: called at the steps of a takeover, so a test can run other acquisitions in between
 * and drive an interleaving deterministically over real files. Not for production use.
 */
export interface LockSteps {
  /** The lock was judged stale; nothing claimed yet. */
  judgedStale?(): void;
  /** This run holds the takeover claim; the lock is not yet checked again nor replaced. */
  claimed?(): void;
}

export function lockFile(dir: string): string {
  return path.join(dir, LOCK_FILE);
}

/** A lock left unreadable (being written, or not ours) counts as in use while younger than this. */
const UNREADABLE_GRACE_MS = 10_000;
/** Claims of dead claimants followed before giving up (each needs a run killed mid-takeover). */
const MAX_CLAIM_CHAIN = 8;

/** Takes the lock of the view version whose directory is `dir` (which must exist). */
export function acquireMaterializationLock(dir: string, label: string, steps: LockSteps = {}): MaterializationLock {
  const file = lockFile(dir);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  const held = (): MaterializationLock => ({ file, info, release: () => release(file, info.token) });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, info)) return held();
    const current = readLock(file);
    if (current === 'gone') continue; // released meanwhile: try again
    if (current !== 'unreadable' && !isStale(current)) throw locked(label, file, current);
    if (current === 'unreadable' && !olderThan(file, UNREADABLE_GRACE_MS)) throw locked(label, file, undefined); // being written right now
    const staleId = identity(file, current);
    if (staleId === undefined) continue; // gone meanwhile
    steps.judgedStale?.();
    const outcome = takeOver(file, staleId, info, steps);
    if (outcome === 'taken') return held();
    if (outcome === 'busy') throw locked(label, file, readLockOrUndefined(file), 'another run is taking the stale lock over');
    // 'changed': the lock is no longer the one judged stale (another run took it over): look again
  }
  throw locked(label, file, readLockOrUndefined(file));
}

/** Creates `file` exclusively with `info`; false when it exists. */
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

/**
 * What identifies the lock file's current content: its token, or for an unreadable file its
 * inode, size and mtime (undefined when the file is gone).
 */
function identity(file: string, read: LockInfo | 'unreadable' = readLock(file) as LockInfo | 'unreadable'): string | undefined {
  if (typeof read === 'object') return read.token;
  try {
    const st = statSync(file);
    return `x${st.ino}-${st.size}-${Math.floor(st.mtimeMs)}`;
  } catch {
    return undefined;
  }
}

function currentIdentity(file: string): string | undefined {
  const l = readLock(file);
  return l === 'gone' ? undefined : identity(file, l);
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

const claimFile = (file: string, id: string) => `${file}.takeover-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/**
 * Replaces the stale lock `staleId` with this run's, holding the takeover claim while doing it.
 * 'busy': a live run holds the claim; 'changed': the lock is no longer `staleId`.
 */
function takeOver(file: string, staleId: string, info: LockInfo, steps: LockSteps): 'taken' | 'changed' | 'busy' {
  // The claims of dead claimants walked through (file and identity): removed once the lock has
  // moved on from staleId.
  const dead: Array<{ file: string; id: string }> = [];
  let target = staleId;
  for (let tries = 0; tries < 2 * MAX_CLAIM_CHAIN && dead.length < MAX_CLAIM_CHAIN; tries++) {
    const claim = claimFile(file, target);
    if (!tryCreate(claim, info)) {
      const holder = readLock(claim);
      if (holder === 'gone') continue; // released meanwhile: claim it again
      // A live claimant, or a claim being written right now: someone else is taking over.
      if (holder === 'unreadable' ? !olderThan(claim, UNREADABLE_GRACE_MS) : !isStale(holder)) return 'busy';
      const id = identity(claim, holder);
      if (id === undefined) continue;
      dead.push({ file: claim, id });
      target = id; // its claimant died mid-takeover: claim that claim
      continue;
    }
    try {
      steps.claimed?.();
      // Only the holder of the claim (one run at a time) gets here; the lock can have changed
      // only through an earlier holder's completed takeover, which this check sees.
      if (currentIdentity(file) !== staleId) return 'changed';
      const tmp = `${file}.new-${info.token}`;
      writeFileSync(tmp, `${JSON.stringify(info)}\n`, { flag: 'wx' });
      try {
        renameSync(tmp, file); // atomic: the stale lock is replaced, never missing
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
      return 'taken';
    } finally {
      // The lock has moved on from staleId (replaced here or before): the claims about it are
      // spent. A claim cannot be created again while it exists, so checking then unlinking
      // removes exactly the dead claimant's file.
      for (const d of dead) if (currentIdentity(d.file) === d.id) rmSync(d.file, { force: true });
      release(claim, info.token);
    }
  }
  return 'busy';
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

function locked(label: string, file: string, l: LockInfo | undefined, why?: string): PitstopError {
  const who = l ? `pid ${l.pid} on ${l.host}, started ${l.startedAt}` : 'an unknown run (the lock file is being written or is unreadable)';
  return new PitstopError('MATERIALIZATION_LOCKED', `${label}: another materialize-offline run holds ${file} (${who}${why ? `; ${why}` : ''}); nothing was changed. Wait for it to finish; if no run is in progress, delete the lock file`);
}
