/** `pitstop validate`: check every definition file (schema, references, expressions, source columns, pinned versions). */
import { withRegistryWorkflow } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { planRepository } from '../../registry/workflow.ts';
import type { Command } from '../command.ts';

export const validateCommand: Command = {
  name: 'validate',
  summary: 'Check the feature definitions and report every problem (file:line path: message).',
  usage: '[--repo DIR]',
  options: {},
  async run(ctx) {
    const config = await loadConfig(ctx.repoDir, ctx.env);
    // Compiling on top of the current registry also checks pinned versions (view@N:feature).
    const { definitions: d, previous } = await withRegistryWorkflow(config, planRepository);
    ctx.stdout.write(
      `definitions are valid: ${d.files.length} file(s), ${d.entities.length} entities, ${d.sources.length} sources, ` +
        `${d.featureViews.length} feature views, ${d.featureServices.length} feature services` +
        `${previous ? ` (checked against registry version ${previous.version})` : ''}\n`,
    );
    return 0;
  },
};
