/**
 * The registry store port: immutable, content-hashed registry versions plus small mutable
 * state (materialization watermarks). The embedded adapter keeps files under the repository;
 * a shared database adapter can implement the same interface (see docs/registry.md).
 */
import type { RegistrySnapshot } from '../core/registry-model.ts';

export interface RegistryVersionInfo {
  version: number;
  hash: string;
  createdAt: string;
}

export interface RegistryReader {
  /** The newest applied snapshot, or undefined when nothing was applied yet. */
  latest(): Promise<RegistrySnapshot | undefined>;
  /** One version; throws REGISTRY_VERSION_NOT_FOUND when absent. */
  get(version: number): Promise<RegistrySnapshot>;
  /** Every version, oldest first. */
  history(): Promise<RegistryVersionInfo[]>;
}

export interface RegistryWriter {
  /**
   * Store `next` as version `parent + 1`, atomically. Fails with REGISTRY_CONFLICT when another
   * writer stored that version first; a crash leaves the previous version intact.
   */
  commit(next: RegistrySnapshot): Promise<void>;
}

/** Materialization progress per view version: rows up to `watermark` (exclusive) are online. */
export interface WatermarkStore {
  /** Epoch milliseconds, or undefined when the view version was never materialized. */
  getWatermark(view: string, version: number): Promise<number | undefined>;
  setWatermark(view: string, version: number, watermarkMs: number): Promise<void>;
}

export interface RegistryStore extends RegistryReader, RegistryWriter, WatermarkStore {
  close(): Promise<void>;
}
