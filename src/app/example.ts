/**
 * Composition root for the example repository's data generator (a DuckDB writer), so the CLI
 * reaches it through app/ like every other adapter.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EXAMPLE_TABLES } from '../example/tables.ts';

export { DEFAULT_ROWS, DEFAULT_SEED, generateExampleData, type GenerateOptions, type GeneratedTable } from '../example/generate.ts';

/** The example tables whose Parquet file is missing under `dataDir` (all of them on a fresh clone). */
export function missingExampleTables(dataDir: string): string[] {
  return EXAMPLE_TABLES.filter((t) => !existsSync(path.join(dataDir, t.dir, `${t.dir}.parquet`))).map((t) => t.dir);
}
