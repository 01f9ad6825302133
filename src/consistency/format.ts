/**
 * The consistency report as text for a terminal: one table per view version (counts per class
 * and the mismatch rate per feature), example entities per non-matching class, and a verdict.
 * `--json` prints the report object itself instead.
 */
import { formatDuration } from '../core/duration.ts';
import { CONSISTENCY_CLASSES } from './classify.ts';
import type { ConsistencyReport } from './report.ts';

const pct = (r: number) => `${(r * 100).toFixed(r > 0 && r < 0.0001 ? 4 : 2)}%`;

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd());
}

const entityText = (e: Record<string, unknown>) => Object.entries(e).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(',');

export function formatReport(r: ConsistencyReport): string {
  const out: string[] = [`consistency check at ${r.checked_at}: up to ${r.sample_size} entities per view version (seed ${r.seed})`];
  for (const v of r.views) {
    out.push('', `${v.view}  offline entities ${v.offline_entities}, sampled ${v.sampled_entities}, ttl ${v.ttl_ms ? formatDuration(v.ttl_ms) : 'none'}, max online lag ${formatDuration(v.max_online_lag_ms)}, max online ahead ${formatDuration(v.max_online_ahead_ms)}`);
    const rows = [['  feature', ...CONSISTENCY_CLASSES, 'mismatch rate']];
    for (const f of v.features) rows.push([`  ${f.name}`, ...CONSISTENCY_CLASSES.map((c) => String(f.counts[c])), pct(f.mismatch_rate)]);
    out.push(...table(rows));
    const examples: string[] = [];
    for (const f of v.features) {
      for (const c of CONSISTENCY_CLASSES) {
        for (const e of f.examples[c] ?? []) {
          const online = e.online_event_ts === null ? 'online: no row' : `online ${JSON.stringify(e.online_value)} @ ${e.online_event_ts}`;
          examples.push(`    ${f.name} ${c} ${entityText(e.entity)}: offline ${JSON.stringify(e.offline_value)} @ ${e.offline_event_ts}, ${online}`);
        }
      }
    }
    if (examples.length) out.push('  examples:', ...examples);
  }
  const verdict = r.passed ? 'PASS' : 'FAIL';
  out.push('', `${r.values} values compared, mismatch rate ${pct(r.mismatch_rate)} (max allowed ${pct(r.max_mismatch_rate)}): ${verdict}`);
  return `${out.join('\n')}\n`;
}
