/**
 * Bytes given as text where a format has no bytes (JSON over HTTP, JSON push files): standard
 * base64 (RFC 4648 section 4), padding optional. Strict, unlike `Buffer.from(s, 'base64')`,
 * which skips characters it does not know: text that is not base64 is refused, never read as
 * some other bytes.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** The bytes `text` encodes, or undefined when it is not base64. */
export function decodeBase64(text: string): Buffer | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}
