/** `pitstop registry history`: every applied registry version, oldest first. */
import { openRegistryStore } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import type { Command } from '../command.ts';

export const registryHistoryCommand: Command = {
  name: 'registry history',
  summary: 'List the applied registry versions (version, time, hash, feature view versions).',
  usage: '[--repo DIR] [--json]',
  options: { json: { type: 'boolean' } },
  async run(ctx, args) {
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const store = await openRegistryStore(config);
    try {
      const history = await store.history();
      if (args.values.json) {
        ctx.stdout.write(`${JSON.stringify(history, null, 2)}\n`);
        return 0;
      }
      if (history.length === 0) {
        ctx.stdout.write('No registry versions yet (run pitstop apply).\n');
        return 0;
      }
      ctx.stdout.write('version  created                   hash          views\n');
      for (const h of history) {
        const s = await store.get(h.version);
        const views = Object.values(s.featureViews).map((v) => `${v.name}@${v.latest}`).join(' ');
        ctx.stdout.write(`${String(h.version).padEnd(8)} ${h.createdAt.padEnd(25)} ${h.hash.slice(0, 12)}  ${views}\n`);
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};
