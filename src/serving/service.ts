/**
 * The serving operations both transports call: lookups, push and the feature service listing.
 * Holds no per-request state; a request takes the current snapshot once and keeps it.
 */
import { PitstopError } from '../core/errors.ts';
import { formatFeatureRef } from '../core/feature-ref.ts';
import type { RegistrySnapshot } from '../core/registry-model.ts';
import type { OnlineReader, WriteResult } from '../online/ports.ts';
import { getOnlineFeatures, type Limits, type OnlineFeaturesRequest } from './get-online-features.ts';
import type { Cancellation } from './cancellation.ts';
import type { ServingMetrics } from './metrics.ts';
import type { ServingSnapshot } from './plan.ts';
import type { OnlineFeaturesResult } from './result.ts';
import type { SnapshotHolder } from './snapshot-holder.ts';

/** What a push call asks for beyond its rows. */
export interface PushCallOptions {
  /** Also append the batch to the offline push log (written before the online store). */
  toOffline?: boolean;
  /** Bytes may be given as base64 text (JSON has no bytes; the HTTP transport sets it). */
  base64Bytes?: boolean;
}

export interface PushOutcome extends WriteResult {
  /** Rows appended to the offline push log (0 unless `toOffline`). */
  offlineRows: number;
}

/**
 * Writes pushed rows of one view (`view` or `view@version`), column-wise, with the same checks as
 * `pitstop push`, online and (when asked) to the offline push log first; the composition root
 * supplies it (serving itself holds no writer and no push log). Fails PUSH_LOG_UNAVAILABLE when
 * the log cannot be opened or written, having written nothing online.
 */
export type PushFn = (snapshot: RegistrySnapshot, view: string, columns: Readonly<Record<string, readonly unknown[]>>, options: PushCallOptions) => Promise<PushOutcome>;

export interface ServingLimits extends Limits {
  /** Largest request message in bytes. */
  maxMessageBytes: number;
}

export interface FeatureServiceListing {
  registry_version: number;
  registry_hash: string;
  services: { name: string; description: string; features: { ref: string; view: string; version: number; name: string; type: string }[] }[];
}

export interface ServingServiceDeps {
  holder: SnapshotHolder;
  reader: OnlineReader;
  metrics: ServingMetrics;
  limits: ServingLimits;
  /** Writes pushed rows; absent, Push fails INTERNAL (the composition root always supplies one). */
  push?: PushFn;
}

export class ServingService {
  /** Store-read and value-age recorders, made once rather than per request. */
  private readonly onRead: (seconds: number, ok: boolean) => void;
  private readonly onValueAge: (seconds: number) => void;

  constructor(readonly deps: ServingServiceDeps) {
    const { metrics } = deps;
    this.onRead = (s, ok) => (ok ? metrics.storeReadOk : metrics.storeReadError).observe(s);
    this.onValueAge = (s) => metrics.valueAge.observe(s);
  }

  /** The snapshot a new request should use; fails UNAVAILABLE until a registry version exists. */
  snapshot(): ServingSnapshot {
    const s = this.deps.holder.current();
    if (!s) throw new PitstopError('REGISTRY_EMPTY', 'no registry version has been applied yet (run pitstop apply); the server is not ready');
    return s;
  }

  /**
   * The metrics label of a lookup: its feature service when the registry being served has it,
   * `_refs` for a list of feature references, `_unknown` otherwise (a name from a request is
   * never a label as such: any string a client sends would become a series of its own).
   */
  serviceLabel(featureService: unknown): string {
    if (featureService === undefined || featureService === null || featureService === '') return '_refs';
    const snap = this.deps.holder.current();
    return typeof featureService === 'string' && snap && Object.hasOwn(snap.snapshot.featureServices, featureService) ? featureService : '_unknown';
  }

  getOnlineFeatures(request: OnlineFeaturesRequest, cancel?: Cancellation): Promise<OnlineFeaturesResult> {
    const { reader, limits } = this.deps;
    return getOnlineFeatures(this.snapshot(), reader, request, {
      limits,
      cancel,
      onRead: this.onRead,
      onValueAge: this.onValueAge,
    });
  }

  async push(view: string, columns: Readonly<Record<string, readonly unknown[]>>, options: PushCallOptions = {}): Promise<PushOutcome> {
    if (!this.deps.push) throw new PitstopError('INTERNAL', 'this server was started without a push writer');
    if (!view) throw new PitstopError('BAD_REQUEST', 'push needs `feature_view`');
    let rows = 0;
    for (const col of Object.values(columns)) rows = Math.max(rows, col.length);
    if (rows > this.deps.limits.maxEntities) {
      throw new PitstopError('LIMIT_EXCEEDED', `the push has ${rows} rows; the limit is ${this.deps.limits.maxEntities}`);
    }
    return this.deps.push(this.snapshot().snapshot, view, columns, { toOffline: options.toOffline === true, base64Bytes: options.base64Bytes === true });
  }

  listFeatureServices(): FeatureServiceListing {
    const snap = this.snapshot().snapshot;
    return {
      registry_version: snap.version,
      registry_hash: snap.hash,
      services: Object.values(snap.featureServices).map((s) => ({
        name: s.name,
        description: s.description ?? '',
        features: s.features.map((f) => {
          const def = snap.featureViews[f.view]?.versions[f.version - 1]?.features.find((x) => x.name === f.feature);
          return { ref: formatFeatureRef({ view: f.view, version: f.version, feature: f.feature }), view: f.view, version: f.version, name: f.feature, type: def?.type ?? '' };
        }),
      })),
    };
  }
}
