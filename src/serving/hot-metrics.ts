/**
 * Histograms and counters for the per-request path, registered in a prom-client Registry (which
 * formats them, and aggregates them across `serve --workers`), but recorded without prom-client's
 * per-call work.
 *
 * prom-client's `observe({labels}, v)` validates the labels object, builds a string key from it
 * and finds the bucket through an object keyed by bound, on every call: the serving profile at
 * 1 x 50 put prom-client at about 2% of the server's busy CPU (4 calls per request). Here a
 * caller resolves its labels to a child once per call through nested Maps (no string built, no
 * object allocated) and a child records into a Float64Array. Label values are internal names
 * (transport, method, status code, a feature service the registry knows), never free text from
 * a request, so the number of children stays small.
 *
 * `get()` returns what prom-client's own metrics return, so `Registry.metrics()` and
 * `AggregatorRegistry` treat these like any other metric.
 */
import type { Registry } from 'prom-client';

type Labels = Record<string, string | number>;
interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}
interface MetricObject {
  name: string;
  help: string;
  type: 'histogram' | 'counter';
  values: MetricValue[];
  aggregator: 'sum';
}

abstract class Family<C> {
  private readonly root = new Map<string, unknown>();
  protected readonly children: { labels: Labels; child: C }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    if (labelNames.length > 3) throw new Error(`${name}: at most 3 labels`);
    registry.registerMetric(this as never);
  }

  protected abstract create(): C;

  /** The child for these label values (one per label name, in order), made on first use. */
  child(a = '', b = '', c = ''): C {
    switch (this.labelNames.length) {
      case 0:
        return this.leaf(this.root, '', a, b, c);
      case 1:
        return this.leaf(this.root, a, a, b, c);
      case 2:
        return this.leaf(level(this.root, a), b, a, b, c);
      default:
        return this.leaf(level(level(this.root, a), b), c, a, b, c);
    }
  }

  private leaf(at: Map<string, unknown>, key: string, a: string, b: string, c: string): C {
    let child = at.get(key) as C | undefined;
    if (child === undefined) {
      child = this.create();
      at.set(key, child);
      const labels: Labels = {};
      const values = [a, b, c];
      this.labelNames.forEach((l, i) => (labels[l] = values[i]));
      this.children.push({ labels, child });
    }
    return child;
  }
}

function level(at: Map<string, unknown>, key: string): Map<string, unknown> {
  let next = at.get(key) as Map<string, unknown> | undefined;
  if (!next) at.set(key, (next = new Map()));
  return next;
}

export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    if (!(v >= 0 || v < 0)) return; // NaN: nothing to record
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    if (i < b.length) this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

export class HotHistogram extends Family<HistogramChild> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;

  constructor(options: { name: string; help: string; labelNames?: readonly string[]; buckets: readonly number[]; registry: Registry }) {
    super(options.name, options.help, options.labelNames ?? [], options.registry);
    this.bounds = Float64Array.from([...options.buckets].sort((x, y) => x - y));
    // Without labels there is one series, shown (at zero) before the first observation.
    if (this.labelNames.length === 0) this.child();
  }

  protected create(): HistogramChild {
    return new HistogramChild(this.bounds);
  }

  /** Records into the child without labels (a histogram with no label names). */
  observe(v: number): void {
    this.child().observe(v);
  }

  async get(): Promise<MetricObject> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, child } of this.children) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += child.counts[i];
        values.push({ value: acc, labels: { le: this.bounds[i], ...labels }, metricName: bucket });
      }
      values.push({ value: child.count, labels: { le: '+Inf', ...labels }, metricName: bucket });
      values.push({ value: child.sum, labels: { ...labels }, metricName: `${this.name}_sum` });
      values.push({ value: child.count, labels: { ...labels }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class HotCounter extends Family<CounterChild> {
  readonly type = 'counter';
  readonly aggregator = 'sum';

  constructor(options: { name: string; help: string; labelNames?: readonly string[]; registry: Registry }) {
    super(options.name, options.help, options.labelNames ?? [], options.registry);
    if (this.labelNames.length === 0) this.child();
  }

  protected create(): CounterChild {
    return new CounterChild();
  }

  async get(): Promise<MetricObject> {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.children.map(({ labels, child }) => ({ value: child.value, labels: { ...labels } })),
      aggregator: this.aggregator,
    };
  }
}
