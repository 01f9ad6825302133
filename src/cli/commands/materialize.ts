/**
 * `pitstop materialize --start T --end T [view[@N] ...]`: load the latest row per entity with
 * event time in [start, end) from the offline store into the online store. T is an ISO 8601
 * time (naive = UTC), epoch milliseconds, or `now` (src/cli/options.ts). Without view names, every online view's latest version.
 */
import { openOfflineReader } from '../../app/offline.ts';
import { materialize, openOnlineWriter, progressReporter, selectViews } from '../../app/online.ts';
import { loadSnapshot, openRegistryStore } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import type { Command, CommandContext } from '../command.ts';
import { timeRange } from '../options.ts';

/** Open offline reader, online writer and registry store; run `fn`; close all (reverse order). */
export async function withMaterializeDeps<T>(ctx: CommandContext, fn: (deps: Awaited<ReturnType<typeof open>>) => Promise<T>): Promise<T> {
  const deps = await open(ctx);
  // Ctrl-C: stop reading, let the writes in flight finish, exit non-zero (a rerun completes).
  const onSigint = () => deps.abort.abort();
  process.once('SIGINT', onSigint);
  try {
    return await fn(deps);
  } finally {
    process.off('SIGINT', onSigint);
    deps.progress.stop();
    await deps.online.close().catch(() => {});
    await deps.offline.close().catch(() => {});
    await deps.watermarks.close().catch(() => {});
  }
}

async function open(ctx: CommandContext) {
  const config = await loadConfig(ctx.repoDir, ctx.env);
  const snapshot = await loadSnapshot(config);
  const watermarks = await openRegistryStore(config);
  const offline = await openOfflineReader(config).catch(async (e) => {
    await watermarks.close();
    throw e;
  });
  const online = await openOnlineWriter(config).catch(async (e) => {
    await offline.close();
    await watermarks.close();
    throw e;
  });
  return { config, snapshot, watermarks, offline, online, progress: progressReporter(ctx.stderr, ctx.interactive), abort: new AbortController() };
}

export const materializeCommand: Command = {
  name: 'materialize',
  summary: 'Load the latest feature values in [--start, --end) from the offline store into the online store.',
  usage: '--start T --end T [view[@N] ...]',
  options: { start: { type: 'string' }, end: { type: 'string' } },
  positionals: true,
  async run(ctx, args) {
    const { startMs, endMs } = timeRange(args.values, true) as { startMs: number; endMs: number };
    return withMaterializeDeps(ctx, async (d) => {
      const views = selectViews(d.snapshot, args.positionals);
      if (views.length === 0) {
        ctx.stdout.write('no online feature views to materialize\n');
        return 0;
      }
      const results = await materialize(views, { startMs, endMs }, { offline: d.offline, online: d.online, watermarks: d.watermarks, progress: d.progress }, { signal: d.abort.signal });
      const rows = results.reduce((a, r) => a + r.rows, 0);
      ctx.stdout.write(`materialized ${results.length} view version(s), ${rows} rows into the ${d.config.online_store.type} online store\n`);
      return 0;
    });
  },
};

/**
 * The quickstart's materialization step (`npm start`): every online view of the example
 * repository, all event times up to now, into the configured online store (embedded by default).
 */
export async function quickstartMaterialize(ctx: CommandContext, say: (s: string) => void): Promise<void> {
  say('Materializing the example data into the online store ...');
  await withMaterializeDeps({ ...ctx, interactive: false }, async (d) => {
    const views = selectViews(d.snapshot);
    const results = await materialize(views, { startMs: 0, endMs: Date.now() }, { offline: d.offline, online: d.online, watermarks: d.watermarks });
    for (const r of results) say(`    ${r.view}: ${r.rows} rows`);
    say(`    Online store: ${d.config.online_store.type}${d.config.online_store.type === 'embedded' ? ` (${d.config.paths.embeddedOnline})` : ''}.`);
  });
}
