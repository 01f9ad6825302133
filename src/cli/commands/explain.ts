/**
 * `pitstop explain historical ...`: prints the SQL a historical retrieval would run (values
 * inlined, runnable in a DuckDB shell after loading the entity table) and, per view version,
 * whether its rows come from the offline materialization or the source, and why.
 */
import { openOfflineStore } from '../../app/offline.ts';
import { loadSnapshot } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import type { Command } from '../command.ts';
import { HISTORICAL_OPTIONS, HISTORICAL_USAGE, historicalRequest } from './historical.ts';

export const explainHistoricalCommand: Command = {
  name: 'explain historical',
  summary: 'Print the SQL of a historical retrieval and, per view, whether it reads the offline materialization or the source.',
  usage: HISTORICAL_USAGE,
  options: { ...HISTORICAL_OPTIONS, out: { type: 'string' } },
  async run(ctx, args) {
    const { request, registryVersion } = historicalRequest(args);
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const snapshot = await loadSnapshot(config, registryVersion);
    const store = await openOfflineStore(config);
    try {
      const job = await store.historical(snapshot, request);
      try {
        const lines = [`-- registry version ${snapshot.version}; ${request.filterByCreatedTimestamp ? 'window plan (filter_by_created_timestamp)' : 'ASOF plan'}`];
        for (const o of job.origins) lines.push(`-- ${o.view}@${o.version}: reads ${o.origin}`);
        lines.push(`-- output columns: ${job.columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);
        lines.push('-- "__ps_entities" is the entity table, loaded into a temp table first', '');
        ctx.stdout.write(`${lines.join('\n')}${job.explain()};\n`);
      } finally {
        await job.close();
      }
    } finally {
      await store.close();
    }
    return 0;
  },
};
