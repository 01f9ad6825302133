/**
 * Rows for `pitstop push --file`: JSON (an array of objects, or one object per line for
 * .ndjson/.jsonl), CSV (header row; values converted by the view's types) or Parquet (typed by
 * the file). CSV and Parquet are read through DuckDB.
 *
 * CSV conversions: int32/float → number, int64 → kept as text (exact), bool → true/false/1/0,
 * timestamp → ISO text, bytes → base64, list<T> → a JSON array, empty → null. Text that does
 * not convert is passed on unchanged, so pushRows names the row and field.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeBase64 } from '../core/base64.ts';
import { PitstopError } from '../core/errors.ts';
import { listElementType, type FeatureType } from '../core/feature-types.ts';
import type { FeatureViewVersion } from '../core/registry-model.ts';
import { DuckDBSession } from './duckdb-session.ts';
import { literal, sql } from './sql.ts';

function fromText(t: FeatureType, s: unknown): unknown {
  if (s === null || s === undefined || s === '') return null;
  if (typeof s !== 'string') return s;
  if (listElementType(t)) {
    try {
      const arr = JSON.parse(s);
      return Array.isArray(arr) ? arr.map((x) => (typeof x === 'string' && listElementType(t) !== 'string' ? fromText(listElementType(t)!, x) : x)) : s;
    } catch {
      return s;
    }
  }
  switch (t) {
    case 'int32':
    case 'float32':
    case 'float64':
      return /^\s*$/.test(s) || Number.isNaN(Number(s)) ? s : Number(s);
    case 'bool':
      return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : s;
    case 'bytes':
      return decodeBase64(s) ?? s;
    default:
      return s; // int64 digits, string, timestamp text
  }
}

/** Read the rows of a push file for `view`. Throws SOURCE_UNREADABLE or USAGE. */
export async function readPushFile(view: FeatureViewVersion, file: string): Promise<Record<string, unknown>[]> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json' || ext === '.ndjson' || ext === '.jsonl') {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new PitstopError('SOURCE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
    }
    try {
      if (ext === '.json') {
        const v = JSON.parse(text);
        if (!Array.isArray(v)) throw new Error('expected an array of row objects');
        return v;
      }
      return text.split('\n').filter((l) => l.trim()).map((l, i) => {
        try {
          return JSON.parse(l);
        } catch (e) {
          throw new Error(`line ${i + 1}: ${(e as Error).message}`);
        }
      });
    } catch (e) {
      throw new PitstopError('PUSH_ROWS_INVALID', `${file}: not valid JSON rows: ${(e as Error).message}`, { cause: e });
    }
  }
  if (ext !== '.csv' && ext !== '.parquet') throw new PitstopError('USAGE', `--file must end in .json, .ndjson, .jsonl, .csv or .parquet, got ${file}`);
  const session = await DuckDBSession.create({ threads: 1 });
  try {
    if (ext === '.parquet') return await session.all(sql`SELECT * FROM read_parquet(${literal(file)})`);
    const rows = await session.all(sql`SELECT * FROM read_csv(${literal(file)}, header = true, all_varchar = true)`);
    const types = new Map<string, FeatureType>([...view.joinKeys.map((k) => [k.name, k.type] as const), ...view.features.map((f) => [f.name, f.type] as const)]);
    return rows.map((r) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r)) {
        const t = types.get(k);
        out[k] = t ? fromText(t, v) : v === '' ? null : v;
      }
      return out;
    });
  } finally {
    session.close();
  }
}
