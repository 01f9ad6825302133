/**
 * `pitstop materialize-offline [view[@N] ...] [--start T] [--end T]`: writes each view version's
 * feature rows as date-partitioned Parquet under the offline data directory; re-running a range
 * replaces it. Times are ISO 8601; without an offset they mean UTC.
 */
import { formatIntervals, openOfflineStore } from '../../app/offline.ts';
import { loadSnapshot } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { PitstopError } from '../../core/errors.ts';
import { lookupView } from '../../registry/resolve.ts';
import type { FeatureViewVersion } from '../../core/registry-model.ts';
import type { Command } from '../command.ts';

export const materializeOfflineCommand: Command = {
  name: 'materialize-offline',
  summary: 'Write feature views (latest versions, or view@N) as date-partitioned Parquet for fast historical retrieval.',
  usage: '[view[@N] ...] [--start T] [--end T] [--registry-version N]',
  positionals: true,
  options: { start: { type: 'string' }, end: { type: 'string' }, 'registry-version': { type: 'string' } },
  async run(ctx, args) {
    const startMs = parseTime(args.values.start, '--start');
    const endMs = parseTime(args.values.end, '--end');
    if (startMs !== undefined && endMs !== undefined && startMs >= endMs) throw new PitstopError('USAGE', '--start must be before --end');
    const rv = args.values['registry-version'];
    if (rv !== undefined && !/^[1-9][0-9]*$/.test(String(rv))) throw new PitstopError('USAGE', `--registry-version must be a positive integer, got "${String(rv)}"`);
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const snapshot = await loadSnapshot(config, rv === undefined ? undefined : Number(rv));
    const views: FeatureViewVersion[] = args.positionals.length
      ? args.positionals.map((p) => {
          const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:@([1-9][0-9]*))?$/.exec(p);
          if (!m) throw new PitstopError('USAGE', `bad view "${p}": expected view or view@N`);
          return lookupView(snapshot, m[1], m[2] === undefined ? undefined : Number(m[2]));
        })
      : Object.keys(snapshot.featureViews).sort().map((name) => lookupView(snapshot, name));
    const store = await openOfflineStore(config);
    try {
      for (const view of views) {
        const started = performance.now();
        const r = await store.materializeOffline(view, { startMs, endMs });
        ctx.stdout.write(`${r.view}@${r.version}: ${r.rows.toLocaleString('en-US')} rows, ${r.partitions} date partitions rewritten in ${((performance.now() - started) / 1000).toFixed(2)} s; materialized ${formatIntervals(r.intervals)}\n`);
      }
    } finally {
      await store.close();
    }
    return 0;
  },
};

/** ISO 8601 time → epoch ms; a time without an offset is UTC. */
export function parseTime(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const naive = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text);
  const ms = Date.parse(naive ? (text.length === 10 ? `${text}T00:00:00Z` : `${text.replace(' ', 'T')}Z`) : text);
  if (!Number.isFinite(ms)) throw new PitstopError('USAGE', `${name} "${text}" is not an ISO 8601 time (e.g. 2024-01-31 or 2024-01-31T12:00:00+02:00)`);
  return ms;
}
