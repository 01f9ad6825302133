/**
 * `pitstop online get --entity rider_id=1001 [--entity ...] (--features view:f,... | --feature-service NAME) [--full-feature-names]`:
 * read features from the online store and print JSON: per feature its values, statuses
 * (PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE) and event timestamps, one per entity.
 * Composite keys: `--entity rider_id=1,driver_id=7`.
 */
import { lookupOnline, openOnlineReader } from '../../app/online.ts';
import { loadSnapshot } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { PitstopError } from '../../core/errors.ts';
import { resolveRefs, resolveService } from '../../registry/resolve.ts';
import type { Command } from '../command.ts';
import { FEATURE_SELECTION_OPTIONS, featureSelection } from '../options.ts';

export function parseEntity(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new PitstopError('USAGE', `--entity "${text}": expected join_key=value[,join_key=value...]`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

export const onlineGetCommand: Command = {
  name: 'online get',
  summary: 'Read feature values for entities from the online store and print them as JSON with statuses and event times.',
  usage: '--entity KEY=V[,KEY=V] [--entity ...] (--features view:f,... | --feature-service NAME) [--full-feature-names]',
  options: {
    entity: { type: 'string', multiple: true },
    ...FEATURE_SELECTION_OPTIONS,
    // The old spelling, kept so scripts written against it still work.
    'full-names': { type: 'boolean' },
  },
  async run(ctx, args) {
    const entities = ((args.values.entity as string[] | undefined) ?? []).map(parseEntity);
    if (entities.length === 0) throw new PitstopError('USAGE', 'give at least one --entity join_key=value');
    const selection = featureSelection({ ...args.values, 'full-feature-names': args.values['full-feature-names'] === true || args.values['full-names'] === true });
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const snapshot = await loadSnapshot(config);
    const request = selection.features
      ? resolveRefs(snapshot, selection.features, selection.fullFeatureNames)
      : resolveService(snapshot, selection.featureService, selection.fullFeatureNames);
    const reader = await openOnlineReader(config);
    try {
      const result = await lookupOnline(reader, request, entities);
      const json = {
        entities,
        features: Object.fromEntries(result.map((f) => [f.name, { ref: f.ref, values: f.values, statuses: f.statuses, event_timestamps: f.eventTimestamps }])),
      };
      ctx.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      return 0;
    } finally {
      await reader.close();
    }
  },
};
