/** Progress output: plain log lines off a terminal, a cli-progress bar with rows, rate and ETA on one. */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { progressReporter } from '../../src/materialize/progress.ts';

function sink(tty: boolean) {
  let text = '';
  const s = new Writable({ write: (c, _e, cb) => ((text += String(c)), cb()) }) as Writable & { isTTY?: boolean; columns?: number; cursorTo?: unknown; clearLine?: unknown; moveCursor?: unknown };
  if (tty) {
    s.isTTY = true;
    s.columns = 120;
    s.cursorTo = (_x: number, _y?: number, cb?: () => void) => (cb?.(), true);
    s.clearLine = (_d: number, cb?: () => void) => (cb?.(), true);
    s.moveCursor = (_x: number, _y: number, cb?: () => void) => (cb?.(), true);
  }
  return { s, text: () => text };
}

const result = { view: 'v@1', range: { startMs: 0, endMs: 1000 }, rows: 10, written: 8, stale: 2, elapsedMs: 500, watermarkMs: 1000 };

describe('progressReporter', () => {
  it('writes plain lines when not interactive', () => {
    const out = sink(false);
    const p = progressReporter(out.s, false);
    p.viewStarted('v@1', { startMs: 0, endMs: 1000 }, undefined);
    p.rowsWritten('v@1', 10);
    p.viewFinished(result);
    expect(out.text()).toContain('materialize v@1: event time [1970-01-01T00:00:00.000Z, 1970-01-01T00:00:01.000Z)');
    expect(out.text()).toContain('materialized v@1: 10 rows (8 written, 2 already newer) in 0.5 s, 20 rows/s, watermark 1970-01-01T00:00:01.000Z');
  });

  it('draws a bar with rows, rows/s and ETA on a terminal', () => {
    const out = sink(true);
    const p = progressReporter(out.s, true);
    p.viewStarted('v@1', { startMs: 0, endMs: 1000 }, 100);
    p.rowsWritten('v@1', 40);
    p.viewFinished(result);
    expect(out.text()).toMatch(/v@1 \[.*\] 40\/100 rows \| \d+ rows\/s \| ETA/);
  });
});

describe('progressReporter without an estimate', () => {
  it('shows rows and rate only', () => {
    const out = sink(true);
    const p = progressReporter(out.s, true);
    p.viewStarted('v@1', { startMs: 0, endMs: 1000 }, undefined);
    p.rowsWritten('v@1', 40);
    p.viewFinished(result);
    expect(out.text()).toMatch(/v@1 40 rows \| \d+ rows\/s/);
  });
});

describe('progressReporter with a late estimate', () => {
  it('redraws the bar with a total and ETA once the estimate arrives', () => {
    const out = sink(true);
    const p = progressReporter(out.s, true);
    p.viewStarted('v@1', { startMs: 0, endMs: 1000 }, undefined);
    p.rowsWritten('v@1', 40);
    expect(out.text()).not.toContain('ETA');
    p.rowsEstimated!('v@1', 100);
    p.rowsWritten('v@1', 10);
    p.viewFinished(result);
    expect(out.text()).toMatch(/v@1 \[.*\] 50\/100 rows \| \d+ rows\/s \| ETA/);
  });
});
