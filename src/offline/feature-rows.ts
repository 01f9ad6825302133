/**
 * Decides where a view version's feature rows come from (its offline materialization when that
 * covers what is asked, else its source) and gathers what `featureTableSql` needs: the source's
 * columns (described by DuckDB) and the push-log files. This is the I/O half of compiling a
 * feature table; the SQL itself is built purely in feature-table.ts.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PitstopError } from '../core/errors.ts';
import type { FeatureViewVersion } from '../core/registry-model.ts';
import type { DuckDBSession } from './duckdb-session.ts';
import { scanFiles, type FeatureTableSpec, type SourceColumn } from './feature-table.ts';
import { materializationCovers, readManifest, materializedGlob, sourceStamp } from './materialization-manifest.ts';
import { pushLogDir } from './ports.ts';
import { sql } from './sql.ts';

export interface OfflineLocations {
  /** Absolute path of the feature repository root; source paths are relative to it. */
  repoDir: string;
  /** Absolute path of the offline data directory (materializations, push log). */
  offlineDataDir: string;
}

/** What a retrieval needs from a view: event times in [startUs, endUs] (µs; undefined = unbounded). */
export interface NeededRange {
  startUs?: bigint;
  endUs?: bigint;
}

export interface PlannedRows {
  spec: FeatureTableSpec;
  /** Human-readable: which data the rows come from (for `explain`). */
  origin: string;
}

export function sourcePath(loc: OfflineLocations, view: FeatureViewVersion): string {
  return path.resolve(loc.repoDir, view.source.path);
}

/** Glob of the push-log files of a view version, or undefined when there are none. */
export function pushLogGlob(loc: OfflineLocations, view: FeatureViewVersion): string | undefined {
  const dir = pushLogDir(loc.offlineDataDir, view.name, view.version);
  if (!existsSync(dir)) return undefined;
  // Only finished files: writers write a temp name and rename it to *.parquet when complete.
  return readdirSync(dir).some((f) => f.endsWith('.parquet')) ? path.join(dir, '*.parquet') : undefined;
}

/** The files a source path or glob matches right now. */
export async function sourceFiles(session: DuckDBSession, p: string): Promise<string[]> {
  const rows = await session.all(sql`SELECT file FROM glob(${p}) ORDER BY file`);
  return rows.map((r) => String(r.file));
}

/** Columns of the view version's source, as DuckDB reads them; an unreadable source names its file. */
export async function describeSource(session: DuckDBSession, loc: OfflineLocations, view: FeatureViewVersion): Promise<SourceColumn[]> {
  const p = sourcePath(loc, view);
  try {
    return await session.describe(sql`SELECT * FROM ${scanFiles(p, view.source.format)}`);
  } catch (e) {
    const err = e as PitstopError;
    throw new PitstopError('SOURCE_UNREADABLE', `cannot read source "${view.source.name}" of feature view "${view.name}" version ${view.version} at ${p}: ${err.message}`, { cause: e });
  }
}

/**
 * Plans the rows of a view version. `preferMaterialized` (default true) reads the offline
 * materialization when its manifest says it covers `needed` for this exact view version
 * (fingerprint) and the source files have not changed since; otherwise the source.
 */
export async function planFeatureRows(
  session: DuckDBSession,
  loc: OfflineLocations,
  view: FeatureViewVersion,
  options: { needed?: NeededRange; rangeUs?: FeatureTableSpec['rangeUs']; preferMaterialized?: boolean; latestOnly?: boolean } = {},
): Promise<PlannedRows> {
  const push = pushLogGlob(loc, view);
  const pushNote = push ? ' + push log' : '';
  if (options.preferMaterialized !== false) {
    const manifest = readManifest(loc.offlineDataDir, view);
    if (manifest) {
      const stamp = sourceStamp(await sourceFiles(session, sourcePath(loc, view)));
      const why = materializationCovers(manifest, view, options.needed ?? {}, stamp);
      if (why === true) {
        const glob = materializedGlob(loc.offlineDataDir, view);
        const rows = manifest.files > 0 ? { kind: 'materialized' as const, glob, latestOnly: options.latestOnly } : { kind: 'empty' as const };
        return { spec: { view, rows, pushLogGlob: push, rangeUs: options.rangeUs }, origin: `offline materialization (${glob})${pushNote}` };
      }
      const columns = await describeSource(session, loc, view);
      return { spec: { view, rows: { kind: 'source', path: sourcePath(loc, view), format: view.source.format, columns }, pushLogGlob: push, rangeUs: options.rangeUs }, origin: `source ${sourcePath(loc, view)}${pushNote} (materialization not used: ${why})` };
    }
  }
  const columns = await describeSource(session, loc, view);
  return { spec: { view, rows: { kind: 'source', path: sourcePath(loc, view), format: view.source.format, columns }, pushLogGlob: push, rangeUs: options.rangeUs }, origin: `source ${sourcePath(loc, view)}${pushNote}` };
}
