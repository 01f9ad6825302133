/**
 * `pitstop materialize-incremental --end T [--lookback DURATION] [view[@N] ...]`: per view
 * version, from its watermark (kept in the registry) to T, then the watermark moves to T.
 * `--lookback 2h` re-reads the two hours before the watermark, so rows that arrived late with an
 * older event time are still picked up (rows already online are skipped by newer-wins).
 */
import { parseDuration } from '../../core/duration.ts';
import { PitstopError } from '../../core/errors.ts';
import { materializeIncremental, selectViews } from '../../app/online.ts';
import type { Command } from '../command.ts';
import { timeOption } from '../options.ts';
import { withMaterializeDeps } from './materialize.ts';

export const materializeIncrementalCommand: Command = {
  name: 'materialize-incremental',
  summary: 'Materialize each online view from its watermark up to --end (optionally re-reading a --lookback window for late rows).',
  usage: '--end T [--lookback DURATION] [view[@N] ...]',
  options: { end: { type: 'string' }, lookback: { type: 'string' } },
  positionals: true,
  async run(ctx, args) {
    const endMs = timeOption(args.values.end, 'end', { required: true });
    let lookbackMs = 0;
    if (typeof args.values.lookback === 'string') {
      const d = parseDuration(args.values.lookback);
      if (d === undefined) throw new PitstopError('USAGE', `--lookback "${args.values.lookback}" is not a duration (e.g. 30m, 2h, 1d)`);
      lookbackMs = d;
    }
    return withMaterializeDeps(ctx, async (d) => {
      const views = selectViews(d.snapshot, args.positionals);
      const results = await materializeIncremental(views, endMs, { offline: d.offline, online: d.online, watermarks: d.watermarks, progress: d.progress }, { lookbackMs, signal: d.abort.signal });
      const rows = results.reduce((a, r) => a + r.rows, 0);
      ctx.stdout.write(`materialized ${results.length} view version(s), ${rows} rows into the ${d.config.online_store.type} online store\n`);
      return 0;
    });
  },
};
