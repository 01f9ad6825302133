/**
 * Maps a path inside a parsed YAML document (`['feature_views', 0, 'features', 2, 'type']`) to a
 * 1-based line, and formats paths the way problems print them (`feature_views[0].features[2].type`).
 */
import { isMap, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type PathPart = string | number;

export function formatPath(parts: readonly PathPart[]): string {
  let out = '';
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

/**
 * The line of the deepest node on `parts` that exists: a missing key reports its parent
 * object's line, a map entry reports the line of its key.
 */
export function lineOf(doc: Document, lines: LineCounter, parts: readonly PathPart[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const part of parts) {
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(part));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? rangeStart(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

function keyText(key: unknown): string | undefined {
  if (key && typeof key === 'object' && 'value' in key) return String((key as { value: unknown }).value);
  return key === undefined || key === null ? undefined : String(key);
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
