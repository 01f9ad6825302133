/** The online store contract against the embedded (LMDB) adapter, in a temporary directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onlineStoreContract } from './contract.ts';
import { EmbeddedOnlineStore } from '../../src/online/embedded/embedded-store.ts';

onlineStoreContract('embedded (lmdb)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-online-'));
  return {
    open: () => EmbeddedOnlineStore.create({ dir }),
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
