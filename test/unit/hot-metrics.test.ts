/**
 * The per-request metric families (src/serving/hot-metrics.ts) must expose exactly what
 * prom-client's own Histogram and Counter would for the same observations, and aggregate across
 * workers the same way.
 */
import { describe, expect, it } from 'vitest';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../../src/serving/hot-metrics.ts';

const BUCKETS = [0.001, 0.005, 0.01, 0.1];
const SAMPLES: [string, string, number][] = [
  ['grpc', 'a', 0.0005],
  ['grpc', 'a', 0.001], // on a bound: counted in that bucket (le is inclusive)
  ['grpc', 'b', 0.007],
  ['http', 'a', 0.5], // above every bound: only +Inf
  ['grpc', 'a', 0.02],
];

function both() {
  const ref = new Registry();
  const hot = new Registry();
  const refHist = new Histogram({ name: 'lat_seconds', help: 'h', labelNames: ['transport', 'method'], buckets: BUCKETS, registers: [ref] });
  const refCount = new Counter({ name: 'req_total', help: 'c', labelNames: ['transport', 'method'], registers: [ref] });
  const refPlain = new Histogram({ name: 'age_seconds', help: 'p', buckets: [1, 10], registers: [ref] });
  const hotHist = new HotHistogram({ name: 'lat_seconds', help: 'h', labelNames: ['transport', 'method'], buckets: BUCKETS, registry: hot });
  const hotCount = new HotCounter({ name: 'req_total', help: 'c', labelNames: ['transport', 'method'], registry: hot });
  const hotPlain = new HotHistogram({ name: 'age_seconds', help: 'p', buckets: [1, 10], registry: hot });
  return { ref, hot, refHist, refCount, refPlain, hotHist, hotCount, hotPlain };
}

describe('hot metrics', () => {
  it('expose the same text as prom-client for the same observations', async () => {
    const m = both();
    // Before any observation: a label-less histogram shows zeros, labelled families nothing.
    expect(await m.hot.metrics()).toBe(await m.ref.metrics());
    for (const [t, meth, v] of SAMPLES) {
      m.refHist.observe({ transport: t, method: meth }, v);
      m.hotHist.child(t, meth).observe(v);
      m.refCount.inc({ transport: t, method: meth });
      m.hotCount.child(t, meth).inc();
    }
    m.refPlain.observe(3);
    m.hotPlain.observe(3);
    const text = await m.hot.metrics();
    expect(text).toBe(await m.ref.metrics());
    expect(text).toContain('lat_seconds_bucket{le="0.001",transport="grpc",method="a"} 2');
    expect(text).toContain('req_total{transport="grpc",method="a"} 3');
  });

  it('a child is made once per label tuple and reused', () => {
    const m = both();
    expect(m.hotHist.child('grpc', 'a')).toBe(m.hotHist.child('grpc', 'a'));
    expect(m.hotHist.child('grpc', 'a')).not.toBe(m.hotHist.child('grpc', 'b'));
    expect(m.hotHist.child('grpc', 'a')).not.toBe(m.hotHist.child('http', 'a'));
  });

  it('aggregate across workers like prom-client metrics (sums)', async () => {
    const a = both();
    const b = both();
    for (const [t, meth, v] of SAMPLES) {
      for (const m of [a, b]) {
        m.refHist.observe({ transport: t, method: meth }, v);
        m.hotHist.child(t, meth).observe(v);
      }
    }
    const merged = async (x: Registry, y: Registry) => AggregatorRegistry.aggregate([await x.getMetricsAsJSON(), await y.getMetricsAsJSON()] as never).metrics();
    const hotText = await merged(a.hot, b.hot);
    expect(hotText).toBe(await merged(a.ref, b.ref));
    expect(hotText).toContain('lat_seconds_count{transport="grpc",method="a"} 6');
  });
});
