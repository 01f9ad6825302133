/**
 * Holds the registry snapshot being served and swaps it atomically when a newer version is
 * applied. A request takes `current()` once at its start and keeps that object to its end, so an
 * in-flight request finishes on the snapshot it started with; the swap is one reference write.
 * Each snapshot is compiled (`compileSnapshot`) before it becomes current, so requests never
 * resolve or parse registry data on the hot path.
 */
import type { RegistrySnapshot } from '../core/registry-model.ts';
import type { RegistryReader } from '../registry/store.ts';
import { compileSnapshot, type ServingSnapshot } from './plan.ts';

export interface SnapshotHolderOptions {
  /** How often to look for a newer registry version, in ms; 0 disables polling. Default 2000. */
  pollMs?: number;
  /** Where problems (a failed poll) are reported; default: stderr. */
  log?: (line: string) => void;
  /** Called after every swap (metrics: registry version served). */
  onSwap?: (snapshot: ServingSnapshot) => void;
}

export class SnapshotHolder {
  private served: ServingSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly log: (line: string) => void;
  private readonly listeners: ((s: ServingSnapshot) => void)[] = [];

  /** No I/O; `create()` loads the latest snapshot and starts polling. */
  constructor(
    private readonly reader: RegistryReader | undefined,
    private readonly options: SnapshotHolderOptions = {},
  ) {
    this.log = options.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  /** Loads the latest applied version (if any; the server is not ready until one exists) and polls for newer ones. */
  static async create(reader: RegistryReader, options: SnapshotHolderOptions = {}): Promise<SnapshotHolder> {
    const holder = new SnapshotHolder(reader, options);
    await holder.poll();
    const every = options.pollMs ?? 2000;
    if (every > 0) {
      holder.timer = setInterval(() => void holder.poll(), every);
      holder.timer.unref();
    }
    return holder;
  }

  /** A holder serving one fixed snapshot (tests, benchmarks); `apply()` swaps it. */
  static fixed(snapshot: RegistrySnapshot, options: SnapshotHolderOptions = {}): SnapshotHolder {
    const holder = new SnapshotHolder(undefined, options);
    holder.apply(snapshot);
    return holder;
  }

  /** The snapshot to serve a request with, or undefined when no version was applied yet. */
  current(): ServingSnapshot | undefined {
    return this.served;
  }

  /** Compile and swap in `snapshot` unless it is older than (or the same as) the one served. */
  apply(snapshot: RegistrySnapshot): boolean {
    if (this.served && snapshot.version <= this.served.snapshot.version && snapshot.hash === this.served.snapshot.hash) return false;
    if (this.served && snapshot.version < this.served.snapshot.version) return false;
    const compiled = compileSnapshot(snapshot);
    this.served = compiled;
    this.options.onSwap?.(compiled);
    for (const l of this.listeners) l(compiled);
    return true;
  }

  /** Calls `listener` after every swap, and now when a snapshot is already served. */
  onSwap(listener: (s: ServingSnapshot) => void): void {
    this.listeners.push(listener);
    if (this.served) listener(this.served);
  }

  /** Look for a newer version now (the timer calls this); failures are logged, the old snapshot stays. */
  async poll(): Promise<void> {
    if (!this.reader || this.polling) return;
    this.polling = true;
    try {
      const latest = await this.reader.latest();
      if (latest && (!this.served || latest.version > this.served.snapshot.version)) {
        this.apply(latest);
        this.log(`serving registry version ${latest.version} (${latest.hash.slice(0, 12)})`);
      }
    } catch (e) {
      this.log(`registry poll failed, still serving version ${this.served?.snapshot.version ?? 'none'}: ${(e as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
