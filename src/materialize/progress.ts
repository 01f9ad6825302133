/**
 * Materialization progress for the CLI: a cli-progress bar on a terminal (rows, rows/s, ETA when
 * the offline reader can estimate the row count), plain log lines otherwise (one per view, plus
 * one every 5 s while a view runs).
 */
import cliProgress from 'cli-progress';
import type { TimeRange } from '../offline/ports.ts';
import type { MaterializeProgress, ViewMaterializeResult } from './materialize.ts';

const iso = (ms: number) => new Date(ms).toISOString();

export function progressReporter(out: NodeJS.WritableStream, interactive: boolean): MaterializeProgress & { stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  let rows = 0;
  let started = 0;
  let lastLog = 0;
  let current = '';
  const startBar = (view: string, estimate: number | undefined) => {
    bar = new cliProgress.SingleBar(
      {
        stream: out as NodeJS.WriteStream,
        // Without a row estimate there is no total, hence no bar and no ETA: rows and rate only.
        format: estimate ? `${view} [{bar}] {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}` : `${view} {value} rows | {rate} rows/s`,
        etaBuffer: 20,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(estimate ?? 0, 0, { rate: 0 });
  };
  return {
    viewStarted(view: string, range: TimeRange, estimate: number | undefined) {
      rows = 0;
      started = Date.now();
      lastLog = started;
      current = view;
      if (interactive) {
        startBar(view, estimate);
      } else {
        out.write(`materialize ${view}: event time [${iso(range.startMs)}, ${iso(range.endMs)})\n`);
      }
    },
    rowsEstimated(view: string, estimate: number) {
      // The estimate came after the bar started: redraw it with a total, so the ETA appears.
      if (!bar || view !== current) return;
      bar.stop();
      startBar(view, Math.max(estimate, rows));
      bar.update(rows, { rate: Math.round(rows / Math.max(0.001, (Date.now() - started) / 1000)) });
    },
    rowsWritten(view: string, n: number) {
      rows += n;
      const now = Date.now();
      const rate = Math.round(rows / Math.max(0.001, (now - started) / 1000));
      if (bar) {
        if (bar.getTotal() < rows) bar.setTotal(rows);
        bar.update(rows, { rate });
      } else if (now - lastLog >= 5000) {
        lastLog = now;
        out.write(`materialize ${view}: ${rows} rows written, ${rate} rows/s\n`);
      }
    },
    viewFinished(r: ViewMaterializeResult) {
      bar?.stop();
      bar = undefined;
      const rate = r.elapsedMs > 0 ? Math.round(r.rows / (r.elapsedMs / 1000)) : 0;
      const wm = r.watermarkMs === undefined ? '' : `, watermark ${iso(r.watermarkMs)}`;
      out.write(`materialized ${r.view}: ${r.rows} rows (${r.written} written, ${r.stale} already newer) in ${(r.elapsedMs / 1000).toFixed(1)} s, ${rate} rows/s${wm}\n`);
    },
    stop() {
      bar?.stop();
      void current;
    },
  };
}
