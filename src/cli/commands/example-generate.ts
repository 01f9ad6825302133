/** `pitstop example generate`: the example repository's deterministic source data, as Parquet. */
import path from 'node:path';
import { PitstopError } from '../../core/errors.ts';
import { DEFAULT_ROWS, DEFAULT_SEED, generateExampleData } from '../../app/example.ts';
import type { Command } from '../command.ts';

export const exampleGenerateCommand: Command = {
  name: 'example generate',
  summary: 'Write the example source data (Parquet) under data/; deterministic for a seed.',
  usage: `[--repo DIR] [--rows N (default ${DEFAULT_ROWS})] [--seed S (default ${DEFAULT_SEED})] [--out DIR (default <repo>/data)]`,
  options: { rows: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' } },
  async run(ctx, args) {
    const rows = intOption(args.values.rows, 'rows', DEFAULT_ROWS, 1);
    const seed = intOption(args.values.seed, 'seed', DEFAULT_SEED, 0);
    const outDir = typeof args.values.out === 'string' ? path.resolve(args.values.out) : path.join(ctx.repoDir, 'data');
    const started = performance.now();
    const tables = await generateExampleData({
      outDir,
      rows,
      seed,
      onTable: (table, n) => ctx.stderr.write(`  ${table}: ${n.toLocaleString('en-US')} rows\n`),
    });
    const total = tables.reduce((a, t) => a + t.rows, 0);
    ctx.stdout.write(`Generated ${total.toLocaleString('en-US')} rows in ${tables.length} tables under ${outDir} (seed ${seed}) in ${((performance.now() - started) / 1000).toFixed(1)} s.\n`);
    return 0;
  },
};

function intOption(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const text = String(value).replaceAll('_', '');
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new PitstopError('USAGE', `--${name} must be an integer >= ${min}, got "${String(value)}"`);
  }
  return Number(text);
}
