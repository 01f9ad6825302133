/**
 * `pitstop quickstart` (what `npm start` runs): on the example repository, generate the source
 * data when it is missing, validate, apply, and print next steps. Needs no Redis or Docker.
 * Later steps (materialize, serve) are added here by their owners.
 */
import path from 'node:path';
import { generateExampleData, missingExampleTables } from '../../app/example.ts';
import { withRegistryWorkflow } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { formatPlan } from '../../registry/diff.ts';
import { applyRepository } from '../../registry/workflow.ts';
import type { Command } from '../command.ts';
import { quickstartMaterialize } from './materialize.ts';

export const quickstartCommand: Command = {
  name: 'quickstart',
  summary: 'Generate example data if missing, validate, apply; then print next steps (npm start).',
  usage: '[--repo DIR]',
  options: {},
  async run(ctx) {
    const say = (s: string) => ctx.stdout.write(`${s}\n`);
    const config = await loadConfig(ctx.repoDir, ctx.env);

    const dataDir = path.join(config.repoDir, 'data');
    if (missingExampleTables(dataDir).length > 0) {
      say(`1/2 Generating example data under ${dataDir} ...`);
      const tables = await generateExampleData({ outDir: dataDir });
      say(`    ${tables.map((t) => `${t.table} (${t.rows} rows)`).join(', ')}`);
    } else {
      say(`1/2 Example data present under ${dataDir}.`);
    }

    say('2/2 Validating and applying the definitions ...');
    const result = await withRegistryWorkflow(config, applyRepository);
    say(formatPlan(result.plan).trimEnd().replace(/^/gm, '    '));
    say(result.applied ? `    Applied registry version ${result.applied.version}.` : `    Registry unchanged at version ${result.previous?.version}.`);
    await quickstartMaterialize(ctx, say);

    say('');
    say('Next steps:');
    say('  npx pitstop registry show          # what is registered');
    say('  npx pitstop registry history       # every applied version');
    say('  npx pitstop online get --entity driver_id=1 --features driver_stats:rating,driver_embedding:embedding');
    say('  edit definitions/*.yaml, then npx pitstop plan && npx pitstop apply');
    return 0;
  },
};
