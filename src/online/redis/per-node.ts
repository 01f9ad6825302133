/**
 * Per Redis Cluster node (`host:port`, as in the slot map), something opened in the background on
 * first use: a direct read connection (redis-store.ts) or a near-cache tracker (tracked-reads.ts).
 * While it opens, the node has none; one that failed to open is tried again no sooner than a
 * second later, and meanwhile callers go their other way.
 */
export class PerNode<T extends { close(): unknown }> {
  /** Per node: its item, or null while it opens. */
  private readonly items = new Map<string, T | null>();
  /** When a node whose item failed to open may be tried again (epoch ms). */
  private readonly retryAt = new Map<string, number>();
  private closed = false;

  constructor(private readonly open: (node: string) => Promise<T>) {}

  /** The node's item once open; else undefined, and one is started unless it is opening or failed under a second ago. */
  get(node: string): T | undefined {
    const known = this.items.get(node);
    if (known) return known;
    if (known === null || this.closed || (this.retryAt.get(node) ?? 0) > Date.now()) return undefined;
    this.items.set(node, null);
    this.open(node).then(
      (item) => {
        if (this.closed || this.items.get(node) !== null) void item.close();
        else this.items.set(node, item);
      },
      () => {
        if (this.items.get(node) === null) this.items.delete(node);
        this.retryAt.set(node, Date.now() + 1000);
      },
    );
    return undefined;
  }

  /** Opens the node's item now and waits for it (a start that needs every node); rejects as the opener does. */
  async openNow(node: string): Promise<void> {
    const item = await this.open(node);
    // Closed meanwhile (another node's open failed and the caller gave up): not kept, not leaked.
    if (this.closed) void item.close();
    else this.items.set(node, item);
  }

  /** Closes and forgets the items of nodes `keep` does not have (no longer masters: failover, resharding). */
  prune(keep: { has(node: string): boolean }): void {
    for (const [node, item] of this.items) {
      if (keep.has(node)) continue;
      this.items.delete(node);
      void item?.close();
    }
  }

  /** Every node with an item, open (the item) or opening (null). */
  entries(): IterableIterator<[string, T | null]> {
    return this.items.entries();
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.items.values()];
    this.items.clear();
    await Promise.all(all.map((item) => item?.close()));
  }
}
