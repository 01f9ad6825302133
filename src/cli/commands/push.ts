/**
 * `pitstop push --view V[@N] --file rows.json|ndjson|csv|parquet [--offline]`: check the rows
 * against the view's schema (a bad batch writes nothing; the error lists each bad row and
 * field), write them to the online store (newer event time wins), and with --offline append
 * them to the offline push log so training sees them.
 */
import path from 'node:path';
import { openOnlineWriter, openPushLog, pushRows, readPushFile } from '../../app/online.ts';
import { loadSnapshot } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { PitstopError } from '../../core/errors.ts';
import { parseViewRef } from '../../core/feature-ref.ts';
import { lookupView } from '../../registry/resolve.ts';
import type { Command } from '../command.ts';

export const pushCommand: Command = {
  name: 'push',
  summary: 'Check rows against a feature view and write them online (and with --offline to the push log).',
  usage: '--view V[@N] --file rows.json|ndjson|csv|parquet [--offline]',
  options: { view: { type: 'string' }, file: { type: 'string' }, offline: { type: 'boolean' } },
  async run(ctx, args) {
    const viewArg = args.values.view;
    const file = args.values.file;
    if (typeof viewArg !== 'string') throw new PitstopError('USAGE', '--view is required');
    if (typeof file !== 'string') throw new PitstopError('USAGE', '--file is required');
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const snapshot = await loadSnapshot(config);
    const ref = parseViewRef(viewArg);
    const view = lookupView(snapshot, ref.view, ref.version);
    const rows = await readPushFile(view, path.resolve(ctx.repoDir, file));
    const online = await openOnlineWriter(config);
    const pushLog = args.values.offline ? await openPushLog(config) : undefined;
    try {
      const r = await pushRows(snapshot, viewArg, rows, { online, toOffline: Boolean(pushLog), pushLog, base64Bytes: true });
      ctx.stdout.write(`pushed ${r.rows} rows to ${r.view}: ${r.written} written, ${r.stale} older than what is stored${r.offlineFile ? `; push log ${path.relative(config.repoDir, r.offlineFile)}` : ''}\n`);
      return 0;
    } finally {
      await pushLog?.close();
      await online.close();
    }
  },
};
