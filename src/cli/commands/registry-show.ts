/** `pitstop registry show [--version N] [--json]`: one registry version, readable or as JSON. */
import { loadSnapshot } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { PitstopError } from '../../core/errors.ts';
import { formatDuration } from '../../core/duration.ts';
import type { RegistrySnapshot } from '../../core/registry-model.ts';
import type { Command } from '../command.ts';

export const registryShowCommand: Command = {
  name: 'registry show',
  summary: 'Show a registry version (default: the latest): entities, sources, feature view versions, services.',
  usage: '[--repo DIR] [--version N] [--json]',
  options: { version: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx, args) {
    const text = args.values.version;
    let version: number | undefined;
    if (typeof text === 'string') {
      if (!/^[1-9][0-9]*$/.test(text)) throw new PitstopError('USAGE', `--version must be a positive integer, got "${text}"`);
      version = Number(text);
    }
    const config = await loadConfig(ctx.repoDir, ctx.env);
    const snapshot = await loadSnapshot(config, version);
    ctx.stdout.write(args.values.json ? `${JSON.stringify(snapshot, null, 2)}\n` : describeSnapshot(snapshot));
    return 0;
  },
};

export function describeSnapshot(s: RegistrySnapshot): string {
  const out = [`registry version ${s.version} of project ${s.project}, created ${s.createdAt}`, `hash ${s.hash}`, `parent ${s.parentHash ?? '(none)'}`, ''];
  out.push('entities:');
  for (const e of Object.values(s.entities)) out.push(`  ${e.name} (${e.joinKeys.map((k) => `${k.name}: ${k.type}`).join(', ')})`);
  out.push('sources:');
  for (const src of Object.values(s.sources)) out.push(`  ${src.name}: ${src.path} (${src.format}, timestamp ${src.timestampField})`);
  out.push('feature views:');
  for (const v of Object.values(s.featureViews)) {
    const latest = v.versions[v.latest - 1];
    const live = v.versions.filter((x) => !x.retired).map((x) => x.version).join(', ');
    out.push(`  ${v.name}@${v.latest} [${latest.entities.join(' x ')}] ttl ${formatDuration(latest.ttlMs)}${latest.online ? '' : ' (offline only)'}; versions: ${live}`);
    for (const f of latest.features) out.push(`    ${f.name}: ${f.type}${f.expr ? ` = ${f.expr}` : ''}`);
  }
  out.push('feature services:');
  for (const svc of Object.values(s.featureServices)) {
    out.push(`  ${svc.name}: ${svc.features.map((r) => `${r.view}@${r.version}:${r.feature}${r.pinned ? ' (pinned)' : ''}`).join(', ')}`);
  }
  return `${out.join('\n')}\n`;
}
