/** `pitstop plan`: what `apply` would change, and which feature views get a new version and why. */
import { withRegistryWorkflow } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { formatPlan } from '../../registry/diff.ts';
import { planRepository } from '../../registry/workflow.ts';
import type { Command } from '../command.ts';

export const planCommand: Command = {
  name: 'plan',
  summary: 'Show the diff between the definitions and the registry (added, changed, removed; new view versions and why).',
  usage: '[--repo DIR] [--json]',
  options: { json: { type: 'boolean' } },
  async run(ctx, args) {
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const { plan } = await withRegistryWorkflow(config, planRepository);
    ctx.stdout.write(args.values.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
    return 0;
  },
};
