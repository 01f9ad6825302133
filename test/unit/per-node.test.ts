/** PerNode (src/online/redis/per-node.ts): background opens per cluster node, retries, pruning and closing. */
import { describe, expect, it, vi } from 'vitest';
import { PerNode } from '../../src/online/redis/per-node.ts';

class Item {
  closed = false;
  constructor(readonly node: string) {}
  close(): void {
    this.closed = true;
  }
}

/** An opener whose opens the test settles by hand. */
function opener() {
  const pending: { node: string; resolve: (i: Item) => void; reject: (e: Error) => void }[] = [];
  const open = (node: string) => new Promise<Item>((resolve, reject) => pending.push({ node, resolve, reject }));
  return { open, pending };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('PerNode', () => {
  it('opens once per node in the background and hands the item out once it is open', async () => {
    const { open, pending } = opener();
    const p = new PerNode(open);
    expect(p.get('a:1')).toBeUndefined();
    expect(p.get('a:1')).toBeUndefined(); // opening: not opened twice
    expect(pending.map((x) => x.node)).toEqual(['a:1']);
    const item = new Item('a:1');
    pending[0].resolve(item);
    await tick();
    expect(p.get('a:1')).toBe(item);
    expect([...p.entries()]).toEqual([['a:1', item]]);
  });

  it('tries a node whose open failed again no sooner than a second later', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const { open, pending } = opener();
      const p = new PerNode(open);
      p.get('a:1');
      pending[0].reject(new Error('refused'));
      await tick();
      expect(p.get('a:1')).toBeUndefined();
      expect(pending).toHaveLength(1); // not yet
      vi.setSystemTime(Date.now() + 1001);
      expect(p.get('a:1')).toBeUndefined();
      expect(pending).toHaveLength(2); // tried again
    } finally {
      vi.useRealTimers();
    }
  });

  it('prune closes the items of nodes no longer kept; close closes the rest and items that open later', async () => {
    const { open, pending } = opener();
    const p = new PerNode(open);
    p.get('a:1');
    p.get('b:2');
    p.get('c:3');
    const [a, b] = [new Item('a:1'), new Item('b:2')];
    pending[0].resolve(a);
    pending[1].resolve(b);
    await tick();
    p.prune(new Set(['b:2', 'c:3']));
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(false);
    await p.close();
    expect(b.closed).toBe(true);
    const late = new Item('c:3'); // c's open was still pending at close
    pending[2].resolve(late);
    await tick();
    expect(late.closed).toBe(true);
    expect(p.get('c:3')).toBeUndefined();
    expect(pending).toHaveLength(3); // closed: nothing new is opened
  });

  it('openNow waits for the open, and closes what arrives after close instead of keeping it', async () => {
    const { open, pending } = opener();
    const p = new PerNode(open);
    const first = p.openNow('a:1');
    const item = new Item('a:1');
    pending[0].resolve(item);
    await first;
    expect(p.get('a:1')).toBe(item);
    const second = p.openNow('b:2');
    await p.close();
    const late = new Item('b:2');
    pending[1].resolve(late);
    await second;
    expect(late.closed).toBe(true);
    expect(item.closed).toBe(true);
  });
});
