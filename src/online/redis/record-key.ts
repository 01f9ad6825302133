/**
 * Redis key of an entity record: `<key_prefix>:<project>:{<entity key bytes>}`. The braces are a
 * Redis Cluster hash tag, so the record's slot depends on the entity alone; an encoded entity
 * key starts with its format byte (never `{` or `}`), so the tag is never empty. One hash field
 * per view version (`view@version`) holds that view's encoded row. See
 * docs/online-storage-format.md.
 */
import { keySlot } from './key-slot.ts';

export class RecordKeys {
  private readonly head: Buffer;

  /**
   * @param keyPrefix config `online_store.key_prefix` (default `ps`).
   * @param project the registry project, so projects sharing a Redis never collide.
   */
  constructor(keyPrefix: string, project: string) {
    this.head = Buffer.from(`${keyPrefix}:${project}:{`, 'latin1');
  }

  private scratch = Buffer.allocUnsafe(256);

  key(entity: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(this.length(entity));
    this.write(entity, out, 0);
    return out;
  }

  /** The cluster slot of `entity`'s record key, written into a reused buffer (no Buffer per call). */
  slot(entity: Uint8Array): number {
    const n = this.length(entity);
    if (this.scratch.length < n) this.scratch = Buffer.allocUnsafe(Math.max(n, 2 * this.scratch.length));
    return keySlot(this.scratch, this.write(entity, this.scratch, 0));
  }

  /** Bytes of `entity`'s record key. */
  length(entity: Uint8Array): number {
    return this.head.length + entity.length + 1;
  }

  /** Writes `entity`'s record key into `out` at `at` (room checked by the caller); returns the end. */
  write(entity: Uint8Array, out: Buffer, at: number): number {
    this.head.copy(out, at);
    out.set(entity, at + this.head.length);
    const end = at + this.head.length + entity.length;
    out[end] = 0x7d;
    return end + 1;
  }

  /** The entity key bytes back from a record key (SCAN-based tools, debugging). */
  entity(key: Buffer): Buffer {
    return key.subarray(this.head.length, key.length - 1);
  }

  /** A SCAN MATCH pattern for every record of this project. */
  pattern(): string {
    return `${this.head.toString('latin1').slice(0, -1)}*`;
  }
}
