/**
 * `pitstop consistency (--features view:f,... | --feature-service NAME) [--sample N] [--seed S]
 * [--max-mismatch-rate R] [--at T] [--json]`: sample entities from the offline store's latest
 * rows and compare what the online store serves for them (see docs/consistency.md).
 *
 * Exit codes: 0 the mismatch rate is within `--max-mismatch-rate`; 3 it is above (the report is
 * printed either way); 1 the check could not run; 2 bad arguments.
 */
import { DEFAULT_SAMPLE_SIZE, formatReport, runConsistencyCheck } from '../../app/consistency.ts';
import { loadSnapshot } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { PitstopError } from '../../core/errors.ts';
import { resolveRefs, resolveService } from '../../registry/resolve.ts';
import type { Command } from '../command.ts';
import { featureSelection, intOption, timeOption } from '../options.ts';

/** Exit code when the check ran and found more inconsistency than allowed. */
export const EXIT_INCONSISTENT = 3;

function rateOption(v: unknown): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !(n >= 0 && n <= 1)) throw new PitstopError('USAGE', `--max-mismatch-rate "${String(v)}": expected a number from 0 to 1`);
  return n;
}

export const consistencyCommand: Command = {
  name: 'consistency',
  summary: 'Compare online values with the offline latest values for a sample of entities; exit 3 when the mismatch rate exceeds --max-mismatch-rate.',
  usage: '(--features view:f,... | --feature-service NAME) [--sample N] [--seed S] [--max-mismatch-rate R] [--at T] [--json]',
  options: {
    features: { type: 'string' },
    'feature-service': { type: 'string' },
    sample: { type: 'string' },
    seed: { type: 'string' },
    'max-mismatch-rate': { type: 'string' },
    at: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx, args) {
    const selection = featureSelection(args.values);
    const sampleSize = intOption(args.values.sample, 'sample', DEFAULT_SAMPLE_SIZE, 1);
    const seed = intOption(args.values.seed, 'seed', 0, 0);
    const maxMismatchRate = rateOption(args.values['max-mismatch-rate']);
    const nowMs = timeOption(args.values.at, 'at') ?? Date.now();
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const snapshot = await loadSnapshot(config);
    // Full names: the report groups features per view, so two views' same-named features never collide.
    const request = selection.features ? resolveRefs(snapshot, selection.features, true) : resolveService(snapshot, selection.featureService, true);
    if (request.features.length === 0) throw new PitstopError('USAGE', '--features names no feature');
    const report = await runConsistencyCheck(config, request, { sampleSize, seed, maxMismatchRate, nowMs });
    ctx.stdout.write(args.values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.passed ? 0 : EXIT_INCONSISTENT;
  },
};
