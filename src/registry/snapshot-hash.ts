/**
 * The content hash of a registry snapshot: sha256 of its canonical JSON without `hash` and
 * `createdAt`, so re-applying identical definitions on identical parents yields an identical hash
 * and any change to stored bytes is detected on load.
 */
import type { RegistrySnapshot } from '../core/registry-model.ts';
import { sha256Canonical } from './canonical-json.ts';

export function snapshotHash(snapshot: Omit<RegistrySnapshot, 'hash' | 'createdAt'> & Partial<RegistrySnapshot>): string {
  const { hash: _hash, createdAt: _createdAt, ...body } = snapshot;
  return sha256Canonical(body);
}

/** True when the snapshot's `hash` matches its content. */
export function verifySnapshotHash(snapshot: RegistrySnapshot): boolean {
  return typeof snapshot.hash === 'string' && snapshotHash(snapshot) === snapshot.hash;
}
