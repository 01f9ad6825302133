/**
 * `pitstop historical`: a point-in-time correct training dataset. For each entity row (join keys
 * + event_timestamp), each requested feature's latest value known at that time (within the
 * view's ttl), written to a Parquet or CSV file (by extension) by DuckDB, never half-written.
 */
import path from 'node:path';
import { openOfflineStore, outputFormat, type HistoricalRequest } from '../../app/offline.ts';
import { loadSnapshot } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { PitstopError } from '../../core/errors.ts';
import type { Command, ParsedArgs } from '../command.ts';
import { FEATURE_SELECTION_OPTIONS, featureSelection, registryVersionOption } from '../options.ts';

export const HISTORICAL_OPTIONS = {
  entities: { type: 'string' },
  'entities-sql': { type: 'string' },
  ...FEATURE_SELECTION_OPTIONS,
  'filter-by-created-timestamp': { type: 'boolean' },
  'registry-version': { type: 'string' },
  'no-materializations': { type: 'boolean' },
} as const;

export const HISTORICAL_USAGE =
  '--entities FILE | --entities-sql "SELECT ..."  --features view:feature,... | --feature-service NAME  [--full-feature-names] [--filter-by-created-timestamp] [--registry-version N] [--no-materializations]';

/** The request from the command line (shared with `explain historical`). */
export function historicalRequest(args: ParsedArgs): { request: HistoricalRequest; registryVersion?: number } {
  const v = args.values;
  const file = typeof v.entities === 'string' ? v.entities : undefined;
  const query = typeof v['entities-sql'] === 'string' ? v['entities-sql'] : undefined;
  if ((file === undefined) === (query === undefined)) throw new PitstopError('USAGE', 'give exactly one of --entities FILE or --entities-sql "SELECT ..."');
  const selection = featureSelection(v);
  const registryVersion = registryVersionOption(v['registry-version']);
  return {
    request: {
      entities: file !== undefined ? { file: path.resolve(file) } : { sql: query! },
      features: selection.features,
      featureService: selection.featureService,
      fullFeatureNames: selection.fullFeatureNames,
      filterByCreatedTimestamp: v['filter-by-created-timestamp'] === true,
      useMaterializations: v['no-materializations'] !== true,
    },
    registryVersion,
  };
}

export const historicalCommand: Command = {
  name: 'historical',
  summary: 'Build a point-in-time correct training dataset (Parquet or CSV by extension) for entity rows.',
  usage: `${HISTORICAL_USAGE} --out FILE`,
  options: { ...HISTORICAL_OPTIONS, out: { type: 'string' } },
  async run(ctx, args) {
    const { request, registryVersion } = historicalRequest(args);
    if (typeof args.values.out !== 'string') throw new PitstopError('USAGE', '--out FILE is required (.parquet or .csv)');
    const out = path.resolve(args.values.out);
    outputFormat(out); // an unknown extension is a usage error before any work
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const snapshot = await loadSnapshot(config, registryVersion);
    const started = performance.now();
    const store = await openOfflineStore(config);
    try {
      const job = await store.historical(snapshot, request);
      try {
        for (const o of job.origins) ctx.stderr.write(`  ${o.view}@${o.version}: ${o.origin}\n`);
        const rows = await job.writeFile(out);
        ctx.stdout.write(`Wrote ${rows.toLocaleString('en-US')} rows × ${job.columns.length} columns to ${out} in ${((performance.now() - started) / 1000).toFixed(2)} s (registry version ${snapshot.version}).\n`);
      } finally {
        await job.close();
      }
    } finally {
      await store.close();
    }
    return 0;
  },
};
