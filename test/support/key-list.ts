/**
 * Tests write entity keys as arrays of Buffers; the reader port takes packed lists. `keyList`
 * packs one array, and the same array always gives the same list, so views given one array share
 * one list (the sharing ports.ts describes, which adapters use to read one record per entity).
 */
import { EntityKeyList } from '../../src/online/entity-key.ts';

const lists = new WeakMap<readonly Uint8Array[], EntityKeyList>();

export function keyList(keys: readonly Uint8Array[]): EntityKeyList {
  let list = lists.get(keys);
  if (!list) lists.set(keys, (list = EntityKeyList.of(keys)));
  return list;
}
