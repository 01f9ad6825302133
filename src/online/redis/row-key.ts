/**
 * Redis key of one stored row (storage format 2): `<key_prefix>:<project>:<view>@<version>:{<entity
 * key bytes>}`, a string holding the encoded row. The braces are a Redis Cluster hash tag, so
 * every row of one entity lives in one slot whatever its view; an encoded entity key starts with
 * its format byte (never `{` or `}`), so the tag is never empty. Names, the project and the
 * key prefix are restricted to `[A-Za-z0-9_.-]` (plus `@`), so the view part never holds `:`,
 * `{` or `}`. See docs/online-storage-format.md.
 */
import { keySlot } from './key-slot.ts';

export class RowKeys {
  private readonly base: string;
  /** `<key_prefix>:<project>:<view>@<version>:{` per view storage id, built once. */
  private readonly heads = new Map<string, Buffer>();
  private scratch = Buffer.allocUnsafe(256);

  /**
   * @param keyPrefix config `online_store.key_prefix` (default `ps`).
   * @param project the registry project, so projects sharing a Redis never collide.
   */
  constructor(keyPrefix: string, project: string) {
    this.base = `${keyPrefix}:${project}:`;
  }

  /** The bytes before the entity key: `<key_prefix>:<project>:<view>:{`. */
  head(view: string): Buffer {
    let h = this.heads.get(view);
    if (!h) this.heads.set(view, (h = Buffer.from(`${this.base}${view}:{`, 'latin1')));
    return h;
  }

  /** The key of `view`'s row of `entity`, as a Buffer of its own (writes, the cluster fallback, tools). */
  key(view: string, entity: Uint8Array): Buffer {
    const head = this.head(view);
    const out = Buffer.allocUnsafe(head.length + entity.length + 1);
    head.copy(out, 0);
    out.set(entity, head.length);
    out[out.length - 1] = 0x7d;
    return out;
  }

  /**
   * The cluster slot of every row of `entity` (the hash tag is the entity alone), computed on
   * `{entity}` written into a reused buffer (no Buffer per call); the entity key is `entity[from .. to)`.
   */
  slot(entity: Uint8Array, from = 0, to = entity.length): number {
    const n = to - from + 2;
    if (this.scratch.length < n) this.scratch = Buffer.allocUnsafe(Math.max(n, 2 * this.scratch.length));
    this.scratch[0] = 0x7b;
    for (let i = from; i < to; i++) this.scratch[1 + i - from] = entity[i];
    this.scratch[n - 1] = 0x7d;
    return keySlot(this.scratch, n);
  }

  /** The view storage id and entity key bytes back from a row key (SCAN-based tools, debugging). */
  parse(key: Buffer): { view: string; entity: Buffer } {
    const open = key.indexOf(':{', this.base.length);
    return { view: key.toString('latin1', this.base.length, open), entity: key.subarray(open + 2, key.length - 1) };
  }
}
