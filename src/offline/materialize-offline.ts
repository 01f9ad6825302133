/**
 * Offline materialization: a view version's feature rows (source, field mapping, expressions;
 * not the push log, which is always read separately) written as time-partitioned Parquet:
 *
 *   <offline data_dir>/views/<view>/v<N>/date=YYYY-MM-DD/part-<id>.parquet   (UTC event date)
 *   <offline data_dir>/views/<view>/v<N>/_manifest.json                      (see manifest)
 *
 * Idempotent: materializing [start, end) rewrites exactly the affected date partitions. A day
 * wholly inside the range is replaced by the new rows; a day the range cuts keeps its rows
 * outside the range and takes the new rows inside. New partitions are written by DuckDB's
 * partitioned COPY into a staging directory, then swapped in by rename, so rows never pass
 * through Node's heap and a failed run leaves the previous partitions in place.
 *
 * When the source files changed since the last run (their stamp differs), earlier intervals are
 * no longer valid: all partitions are dropped and only the new range is claimed.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FeatureViewVersion } from '../core/registry-model.ts';
import { PitstopError } from '../core/errors.ts';
import type { DuckDBSession } from './duckdb-session.ts';
import { EV, featureTableSql, storedColumns } from './feature-table.ts';
import { describeSource, sourcePath, type OfflineLocations } from './feature-rows.ts';
import {
  addInterval, materializedDir, readManifest, sourceStamp, writeManifest, MANIFEST_FORMAT_VERSION, type Interval,
} from './materialization-manifest.ts';
import { acquireMaterializationLock } from './materialization-lock.ts';
import { ident, literal, sql } from './sql.ts';

export interface MaterializeOfflineRange {
  /** Inclusive lower bound on event time, epoch ms; undefined = from the beginning. */
  startMs?: number;
  /** Exclusive upper bound on event time, epoch ms; undefined = to the end. */
  endMs?: number;
}

export interface MaterializeOfflineResult {
  view: string;
  version: number;
  /** Rows written for the range. */
  rows: number;
  /** Date partitions rewritten (or removed). */
  partitions: number;
  /** The view version's materialized intervals afterwards. */
  intervals: Interval[];
}

const DAY_MS = 86_400_000;

export async function materializeOffline(session: DuckDBSession, loc: OfflineLocations, view: FeatureViewVersion, range: MaterializeOfflineRange = {}): Promise<MaterializeOfflineResult> {
  if (range.startMs !== undefined && range.endMs !== undefined && range.startMs >= range.endMs) {
    throw new PitstopError('USAGE', `materialize-offline ${view.name}: --start must be before --end`);
  }
  const dir = materializedDir(loc.offlineDataDir, view);
  mkdirSync(dir, { recursive: true });
  // One run per view version at a time: taken before anything is read or written, held to the end.
  const lock = acquireMaterializationLock(dir, `materialize-offline ${view.name}@${view.version}`);
  try {
    return await materializeLocked(session, loc, view, range, dir);
  } finally {
    lock.release();
  }
}

async function materializeLocked(session: DuckDBSession, loc: OfflineLocations, view: FeatureViewVersion, range: MaterializeOfflineRange, dir: string): Promise<MaterializeOfflineResult> {
  const { files, columns } = await describeSource(session, loc, view);
  const stamp = sourceStamp(files);
  const previous = readManifest(loc.offlineDataDir, view);
  const stale = previous !== undefined && (previous.sourceStamp !== stamp || previous.fingerprint !== view.fingerprint);

  const rangeUs = { start: range.startMs === undefined ? undefined : BigInt(range.startMs) * 1000n, end: range.endMs === undefined ? undefined : BigInt(range.endMs) * 1000n };
  const table = featureTableSql({ view, rows: { kind: 'source', path: sourcePath(loc, view), files, format: view.source.format, columns }, rangeUs });

  const id = randomBytes(6).toString('hex');
  const staging = path.join(dir, `.staging-${id}`);
  try {
    const rows = await session.exec(sql`COPY (SELECT ${storedColumns(view, { latestFlag: true })}, strftime(make_timestamp(${ident(EV)}), '%Y-%m-%d') AS ${ident('date')} FROM (${table}) AS __ps_ft)
TO ${staging} (FORMAT parquet, PARTITION_BY (${ident('date')}), FILENAME_PATTERN ${literal(`part-${id}-{i}`)})`);
    const staged = listDays(staging);
    const existing = listDays(dir);
    const all = range.startMs === undefined && range.endMs === undefined;
    const affected = [...new Set([...staged, ...existing])].filter((d) => stale || all || intersects(d, range)).sort();
    let partitions = 0;
    for (const day of affected) {
      const target = path.join(dir, `date=${day}`);
      const fresh = path.join(staging, `date=${day}`);
      const keepOld = !stale && !all && existing.includes(day) && !inside(day, range);
      if (keepOld) await mergeDay(session, target, fresh, staging, day, rangeUs, id);
      swap(target, existsSync(fresh) ? fresh : undefined, id);
      partitions++;
    }
    const interval: Interval = [rangeUs.start === undefined ? null : String(rangeUs.start), rangeUs.end === undefined ? null : String(rangeUs.end)];
    const intervals = addInterval(stale || !previous ? [] : previous.intervals, interval);
    writeManifest(loc.offlineDataDir, {
      formatVersion: MANIFEST_FORMAT_VERSION,
      view: view.name,
      version: view.version,
      fingerprint: view.fingerprint,
      intervals,
      sourceStamp: stamp,
      files: countFiles(dir),
      updatedAt: new Date().toISOString(),
    });
    return { view: view.name, version: view.version, rows, partitions, intervals };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** A day the range cuts: its rows outside the range are kept, the new rows inside are added. */
async function mergeDay(session: DuckDBSession, target: string, fresh: string, staging: string, day: string, rangeUs: { start?: bigint; end?: bigint }, id: string): Promise<void> {
  const merged = path.join(staging, `.merge-${day}`);
  mkdirSync(merged, { recursive: true });
  const inRange = [
    rangeUs.start === undefined ? undefined : sql`epoch_us(${ident('event_ts')}) >= CAST(${rangeUs.start} AS BIGINT)`,
    rangeUs.end === undefined ? undefined : sql`epoch_us(${ident('event_ts')}) < CAST(${rangeUs.end} AS BIGINT)`,
  ].filter((x) => x !== undefined);
  const kept = sql`SELECT * FROM read_parquet(${path.join(target, '*.parquet')}, hive_partitioning = false) WHERE NOT (${inRange.length === 2 ? sql`${inRange[0]} AND ${inRange[1]}` : inRange[0]})`;
  const body = existsSync(fresh) ? sql`${kept} UNION ALL BY NAME SELECT * FROM read_parquet(${path.join(fresh, '*.parquet')}, hive_partitioning = false)` : kept;
  await session.exec(sql`COPY (${body}) TO ${path.join(merged, `part-${id}-m.parquet`)} (FORMAT parquet)`);
  rmSync(fresh, { recursive: true, force: true });
  renameSync(merged, fresh);
}

/** Puts `fresh` (or nothing) in place of `target` by rename; the old partition goes last. */
function swap(target: string, fresh: string | undefined, id: string): void {
  const trash = `${path.dirname(target)}/.trash-${id}-${path.basename(target)}`;
  if (existsSync(target)) renameSync(target, trash);
  if (fresh) renameSync(fresh, target);
  rmSync(trash, { recursive: true, force: true });
}

function listDays(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^date=\d{4}-\d{2}-\d{2}$/.test(f)).map((f) => f.slice(5));
}

function countFiles(dir: string): number {
  return listDays(dir).reduce((n, d) => n + readdirSync(path.join(dir, `date=${d}`)).filter((f) => f.endsWith('.parquet')).length, 0);
}

const dayStart = (day: string) => Date.parse(`${day}T00:00:00Z`);

function intersects(day: string, r: MaterializeOfflineRange): boolean {
  const s = dayStart(day);
  return (r.startMs === undefined || r.startMs < s + DAY_MS) && (r.endMs === undefined || r.endMs > s);
}

function inside(day: string, r: MaterializeOfflineRange): boolean {
  const s = dayStart(day);
  return (r.startMs === undefined || r.startMs <= s) && (r.endMs === undefined || r.endMs >= s + DAY_MS);
}
