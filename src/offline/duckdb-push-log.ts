/**
 * The offline push log on DuckDB: each accepted push batch becomes one Parquet file under
 * `pushLogDir(<offline data_dir>, view, version)` with the view's join keys, `event_ts` and
 * `created_ts` (TIMESTAMPTZ) and one column per feature typed `duckdbType(feature.type)`, the
 * layout the offline reader unions with the source.
 *
 * The rows come decoded from the online rows (`PushLogRow`: push decodes what it wrote online,
 * so offline sees exactly the values online got). They go to DuckDB as newline-delimited JSON
 * (every value as text, cast in SQL), are copied to `<file>.tmp` and renamed, so a reader never
 * sees half a file.
 *
 * An adapter (it does I/O); only the composition root (src/app/online.ts) constructs it.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { duckdbType, listElementType, type FeatureType, type ScalarType } from '../core/feature-types.ts';
import type { FeatureViewVersion } from '../core/registry-model.ts';
import { pushLogDir, type PushLog, type PushLogRow } from './ports.ts';
import { DuckDBSession } from './duckdb-session.ts';
import { ident, join, literal, sql, trusted, type Sql } from './sql.ts';

function scalarText(t: ScalarType, v: unknown): string {
  if (t === 'bytes') return Buffer.from(v as Uint8Array).toString('base64');
  return String(v);
}

function jsonValue(t: FeatureType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  const elem = listElementType(t);
  if (elem) return (v as unknown[]).map((x) => scalarText(elem, x));
  return scalarText(t as ScalarType, v);
}

/** SQL turning the text column `col` back into type `t`. */
function castBack(t: FeatureType, col: Sql): Sql {
  const elem = listElementType(t);
  if (elem) {
    const x = trusted('__x');
    return sql`list_transform(${col}, __x -> ${castBack(elem, x)})`;
  }
  if (t === 'bytes') return sql`from_base64(${col})`;
  if (t === 'timestamp') return sql`CAST(epoch_ms(CAST(${col} AS BIGINT)) AS TIMESTAMPTZ)`;
  return sql`CAST(${col} AS ${trusted(duckdbType(t))})`;
}

export class DuckDBPushLog implements PushLog {
  private constructor(private readonly session: DuckDBSession, private readonly offlineDataDir: string) {}

  /** @param offlineDataDir the resolved `offline.data_dir`. */
  static async create(offlineDataDir: string): Promise<DuckDBPushLog> {
    return new DuckDBPushLog(await DuckDBSession.create({ threads: 1 }), offlineDataDir);
  }

  async append(view: FeatureViewVersion, rows: readonly PushLogRow[]): Promise<string> {
    const dir = pushLogDir(this.offlineDataDir, view.name, view.version);
    await mkdir(dir, { recursive: true });
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}`;
    const file = path.join(dir, `${name}.parquet`);
    const tmpJson = path.join(dir, `.${name}.ndjson.tmp`);
    const tmpParquet = `${file}.tmp`;
    const lines: string[] = [];
    for (const row of rows) {
      const o: Record<string, unknown> = {};
      view.joinKeys.forEach((k, j) => (o[`k${j}`] = jsonValue(k.type, row.keys[j])));
      o.ev = String(row.eventMs);
      o.cr = row.createdMs === null ? null : String(row.createdMs);
      view.features.forEach((f, j) => (o[`f${j}`] = jsonValue(f.type, row.values[j])));
      lines.push(JSON.stringify(o));
    }
    const columns: [string, FeatureType, Sql][] = [
      ...view.joinKeys.map((k, j): [string, FeatureType, Sql] => [`k${j}`, k.type, ident(k.name)]),
      ['ev', 'timestamp', ident('event_ts')],
      ['cr', 'timestamp', ident('created_ts')],
      ...view.features.map((f, j): [string, FeatureType, Sql] => [`f${j}`, f.type, ident(f.name)]),
    ];
    // read_json's column spec is a struct literal of names to (closed-set) type names.
    const spec = join(columns.map(([c, t]) => sql`${literal(c)}: ${literal(listElementType(t) ? 'VARCHAR[]' : 'VARCHAR')}`));
    const select = join(columns.map(([c, t, out]) => sql`${castBack(t, ident(c))} AS ${out}`));
    try {
      await writeFile(tmpJson, lines.join('\n') + '\n');
      await this.session.exec(sql`COPY (SELECT ${select} FROM read_json(${literal(tmpJson)}, format = 'newline_delimited', columns = {${spec}})) TO ${literal(tmpParquet)} (FORMAT parquet)`);
      await rename(tmpParquet, file);
    } finally {
      await rm(tmpJson, { force: true });
      await rm(tmpParquet, { force: true });
    }
    return file;
  }

  async close(): Promise<void> {
    this.session.close();
  }
}
