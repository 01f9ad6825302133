/** `pitstop apply`: write the next immutable registry version (nothing when nothing changed). */
import { withRegistryWorkflow } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { formatPlan } from '../../registry/diff.ts';
import { applyRepository } from '../../registry/workflow.ts';
import type { Command } from '../command.ts';

export const applyCommand: Command = {
  name: 'apply',
  summary: 'Validate the definitions and write them as the next registry version, atomically.',
  usage: '[--repo DIR]',
  options: {},
  async run(ctx) {
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const result = await withRegistryWorkflow(config, applyRepository);
    ctx.stdout.write(formatPlan(result.plan));
    if (result.applied) {
      ctx.stdout.write(`Applied registry version ${result.applied.version} (hash ${result.applied.hash.slice(0, 12)}).\n`);
    } else {
      ctx.stdout.write(`Registry unchanged at version ${result.previous?.version}.\n`);
    }
    return 0;
  },
};
