/**
 * The version of the online storage format as a whole (key layout, field naming, row and
 * entity-key encodings, expiry rules), specified in docs/online-storage-format.md. Bump it with
 * any incompatible change, together with the spec; the row and entity-key encodings also carry
 * their own format byte in every stored value.
 */
export { ROW_FORMAT_VERSION } from './row-codec.ts';
export { ENTITY_KEY_FORMAT } from './entity-key.ts';

export const ONLINE_STORAGE_FORMAT_VERSION = 2;
