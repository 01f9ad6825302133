/**
 * Test helpers for the foundation area: run the CLI in process with captured output, and make
 * throwaway feature repositories in temp dirs (never the repository root's .pitstop/).
 */
import { cp, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

export async function runCli(argv: string[]): Promise<CliRun> {
  const out = sink();
  const err = sink();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream, env: {}, interactive: false });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** A temp dir removed by the returned cleanup. */
export async function tempDir(prefix = 'pitstop-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Copies the example repository (pitstop.yaml + definitions/) into `dir`. */
export async function copyExampleRepo(dir: string): Promise<void> {
  await cp(path.join(ROOT, 'pitstop.yaml'), path.join(dir, 'pitstop.yaml'));
  await cp(path.join(ROOT, 'definitions'), path.join(dir, 'definitions'), { recursive: true });
}

/** Writes a minimal repository: pitstop.yaml plus exactly the given definition files (name → YAML text). */
export async function writeRepo(dir: string, files: Record<string, string>, project = 'testproj'): Promise<void> {
  await writeFile(path.join(dir, 'pitstop.yaml'), `project: ${project}\n`);
  await rm(path.join(dir, 'definitions'), { recursive: true, force: true });
  await mkdir(path.join(dir, 'definitions'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, 'definitions', name), text);
}

/** A small valid definition set used by several tests (one entity, one source, one view, one service). */
export const BASE_DEFS = {
  'entities.yaml': `entities:
  - name: rider
    join_keys: [{ name: rider_id, type: int64 }]
`,
  'views.yaml': `sources:
  - name: trips
    path: data/trips/*.parquet
    timestamp_field: event_ts
feature_views:
  - name: rider_stats
    entities: [rider]
    source: trips
    ttl: 2h
    description: first description
    features:
      - { name: trips_today, type: int64 }
      - { name: avg_fare, type: float64, expr: "fare_sum / nullif(trip_count, 0)" }
`,
  'services.yaml': `feature_services:
  - name: eta_model
    features: [rider_stats:trips_today, "rider_stats@1:avg_fare"]
`,
};
