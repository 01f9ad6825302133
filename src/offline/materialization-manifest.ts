/**
 * The manifest of a view version's offline materialization: which event-time intervals it holds,
 * for which definition (fingerprint) and from which source files (a stamp of their paths, sizes
 * and modification times). Historical retrieval reads the materialization only when the manifest
 * proves it covers the request; anything else falls back to the source, so a stale or partial
 * materialization can never change a result.
 *
 * Layout: `<offline data_dir>/views/<view>/v<N>/date=YYYY-MM-DD/*.parquet` plus `_manifest.json`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FeatureViewVersion } from '../core/registry-model.ts';

export const MANIFEST_FILE = '_manifest.json';
export const MANIFEST_FORMAT_VERSION = 1;

/** [startUs, endUs) as decimal strings; null = unbounded on that side. */
export type Interval = [string | null, string | null];

export interface Manifest {
  formatVersion: typeof MANIFEST_FORMAT_VERSION;
  view: string;
  version: number;
  fingerprint: string;
  /** Materialized event-time intervals, sorted and merged. */
  intervals: Interval[];
  /** Stamp of the source files the materialization was made from (see `sourceStamp`). */
  sourceStamp: string;
  /** Number of Parquet files under the version directory. */
  files: number;
  updatedAt: string;
}

export function materializedDir(offlineDataDir: string, view: { name: string; version: number }): string {
  return path.join(offlineDataDir, 'views', view.name, `v${view.version}`);
}

export function materializedGlob(offlineDataDir: string, view: { name: string; version: number }): string {
  return path.join(materializedDir(offlineDataDir, view), 'date=*', '*.parquet');
}

export function readManifest(offlineDataDir: string, view: { name: string; version: number }): Manifest | undefined {
  const file = path.join(materializedDir(offlineDataDir, view), MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    return m.formatVersion === MANIFEST_FORMAT_VERSION ? m : undefined;
  } catch {
    return undefined; // an unreadable manifest means "not materialized": the source is always right
  }
}

/** Written to a temp file and renamed, so readers see the old or the new manifest, never half. */
export function writeManifest(offlineDataDir: string, m: Manifest): void {
  const file = path.join(materializedDir(offlineDataDir, { name: m.view, version: m.version }), MANIFEST_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(m, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** A hash of the source files' paths, sizes and modification times. */
export function sourceStamp(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort()) {
    const s = statSync(f, { throwIfNoEntry: false });
    h.update(`${f}\0${s ? `${s.size}:${s.mtimeMs}` : 'missing'}\n`);
  }
  return h.digest('hex');
}

/** Adds [start, end) to a set of intervals, merging overlapping and touching ones. */
export function addInterval(intervals: readonly Interval[], add: Interval): Interval[] {
  const lo = (x: string | null) => (x === null ? -Infinity : BigInt(x));
  const hi = (x: string | null) => (x === null ? Infinity : BigInt(x));
  const all = [...intervals, add].sort((a, b) => (lo(a[0]) < lo(b[0]) ? -1 : lo(a[0]) > lo(b[0]) ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of all) {
    const last = out[out.length - 1];
    if (last && lo(iv[0]) <= hi(last[1])) {
      if (hi(iv[1]) > hi(last[1])) last[1] = iv[1];
    } else {
      out.push([iv[0], iv[1]]);
    }
  }
  return out;
}

/**
 * True when the materialization can stand in for the source for event times in [needed.startUs,
 * needed.endUs] (inclusive; undefined = unbounded); otherwise the reason it cannot.
 */
export function materializationCovers(
  m: Manifest,
  view: FeatureViewVersion,
  needed: { startUs?: bigint; endUs?: bigint },
  stamp: string,
): true | string {
  if (m.fingerprint !== view.fingerprint) return 'it was made for a different definition of the view version';
  if (m.sourceStamp !== stamp) return 'the source files changed since it was made';
  const covered = m.intervals.some(([s, e]) => {
    const startOk = s === null || (needed.startUs !== undefined && BigInt(s) <= needed.startUs);
    const endOk = e === null || (needed.endUs !== undefined && BigInt(e) > needed.endUs);
    return startOk && endOk;
  });
  return covered ? true : `its intervals ${formatIntervals(m.intervals)} do not cover the event times needed`;
}

export function formatIntervals(intervals: readonly Interval[]): string {
  const t = (x: string | null, side: string) => (x === null ? side : new Date(Number(BigInt(x) / 1000n)).toISOString());
  return intervals.map(([s, e]) => `[${t(s, '-inf')}, ${t(e, '+inf')})`).join(' ') || '(none)';
}
