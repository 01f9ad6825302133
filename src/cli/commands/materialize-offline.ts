/**
 * `pitstop materialize-offline [view[@N] ...] [--start T] [--end T]`: writes each view version's
 * feature rows as date-partitioned Parquet under the offline data directory; re-running a range
 * replaces it. Times as everywhere (src/cli/options.ts): ISO 8601 (naive = UTC), epoch ms, or now.
 */
import { formatIntervals, openOfflineStore } from '../../app/offline.ts';
import { loadSnapshot } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { parseViewRef } from '../../core/feature-ref.ts';
import { lookupView } from '../../registry/resolve.ts';
import type { FeatureViewVersion } from '../../core/registry-model.ts';
import type { Command } from '../command.ts';
import { registryVersionOption, timeRange } from '../options.ts';

export const materializeOfflineCommand: Command = {
  name: 'materialize-offline',
  summary: 'Write feature views (latest versions, or view@N) as date-partitioned Parquet for fast historical retrieval.',
  usage: '[view[@N] ...] [--start T] [--end T] [--registry-version N]',
  positionals: true,
  options: { start: { type: 'string' }, end: { type: 'string' }, 'registry-version': { type: 'string' } },
  async run(ctx, args) {
    const { startMs, endMs } = timeRange(args.values, false);
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const snapshot = await loadSnapshot(config, registryVersionOption(args.values['registry-version']));
    const views: FeatureViewVersion[] = args.positionals.length
      ? args.positionals.map((p) => {
          const ref = parseViewRef(p);
          return lookupView(snapshot, ref.view, ref.version);
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
