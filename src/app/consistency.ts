/**
 * Composition for the online/offline consistency check: opens the configured offline reader and
 * online reader, runs `checkConsistency` (which sees only the ports), closes both.
 */
import type { ResolvedConfig } from '../config/load.ts';
import { checkConsistency, type ConsistencyOptions } from '../consistency/check.ts';
import type { ConsistencyReport } from '../consistency/report.ts';
import type { ResolvedRequest } from '../registry/resolve.ts';
import { openOfflineReader } from './offline.ts';
import { openOnlineReader } from './online.ts';

export { formatReport } from '../consistency/format.ts';
export { DEFAULT_SAMPLE_SIZE } from '../consistency/check.ts';
export type { ConsistencyOptions } from '../consistency/check.ts';
export type { ConsistencyReport } from '../consistency/report.ts';

/** Compare the online store with the offline store for `request` (see src/consistency/). */
export async function runConsistencyCheck(config: ResolvedConfig, request: ResolvedRequest, options: ConsistencyOptions = {}): Promise<ConsistencyReport> {
  const offline = await openOfflineReader(config);
  try {
    const online = await openOnlineReader(config);
    try {
      return await checkConsistency(request, { offline, online }, options);
    } finally {
      await online.close();
    }
  } finally {
    await offline.close();
  }
}
