/** `pitstop example generate`: the example repository's deterministic source data, as Parquet. */
import path from 'node:path';
import { DEFAULT_ROWS, DEFAULT_SEED, generateExampleData } from '../../app/example.ts';
import type { Command } from '../command.ts';
import { intOption, timeOption } from '../options.ts';

export const exampleGenerateCommand: Command = {
  name: 'example generate',
  summary: 'Write the example source data (Parquet) under data/; deterministic for a seed.',
  usage: `[--repo DIR] [--rows N (default ${DEFAULT_ROWS})] [--seed S (default ${DEFAULT_SEED})] [--out DIR (default <repo>/data)] [--end T|now (default 2026-01-08T00:00:00Z)]`,
  options: { rows: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, end: { type: 'string' } },
  async run(ctx, args) {
    const rows = intOption(args.values.rows, 'rows', DEFAULT_ROWS, 1);
    const seed = intOption(args.values.seed, 'seed', DEFAULT_SEED, 0);
    const outDir = typeof args.values.out === 'string' ? path.resolve(args.values.out) : path.join(ctx.repoDir, 'data');
    const endMs = timeOption(args.values.end, 'end');
    const endTime = endMs === undefined ? undefined : new Date(endMs);
    const started = performance.now();
    const tables = await generateExampleData({
      outDir,
      rows,
      seed,
      endTime,
      onTable: (table, n) => ctx.stderr.write(`  ${table}: ${n.toLocaleString('en-US')} rows\n`),
    });
    const total = tables.reduce((a, t) => a + t.rows, 0);
    ctx.stdout.write(`Generated ${total.toLocaleString('en-US')} rows in ${tables.length} tables under ${outDir} (seed ${seed}) in ${((performance.now() - started) / 1000).toFixed(1)} s.\n`);
    return 0;
  },
};
