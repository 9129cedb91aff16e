// YAML with line numbers and tolerated repeated keys.
//
// js-yaml gives plain objects without positions and rejects a repeated key, yet templates written for
// kickstarter repeat keys (the seed's NETBOOK has `PostScripts:` twice), and every error must name a line.
// So the document is loaded in js-yaml's `json` mode (repeated keys allowed) with its `listener` hook,
// which reports the opening and closing of every node: the nodes are rebuilt as a tree that keeps each
// key's line and every occurrence of a repeated key. Repeated keys whose values are lists are merged in
// order with a warning; any other repeated key is an error naming both lines.
import yaml from 'js-yaml';

export type YamlNode =
  | { kind: 'map'; line: number; entries: YamlEntry[] }
  | { kind: 'seq'; line: number; items: YamlNode[] }
  /** Scalars, empty values, aliases and anything the tree cannot place: `value` is js-yaml's own. */
  | { kind: 'value'; line: number; value: unknown };

export interface YamlEntry {
  key: string;
  line: number;
  value: YamlNode;
}

export interface YamlProblem {
  line: number;
  message: string;
}

export interface YamlLoadResult {
  root?: YamlNode;
  errors: YamlProblem[];
  warnings: YamlProblem[];
}

interface Frame {
  line: number;
  kind: string | null;
  result: unknown;
  children: Frame[];
}

export function loadYamlTree(text: string): YamlLoadResult {
  const stack: Frame[] = [{ line: 1, kind: null, result: null, children: [] }];
  const listener = (event: yaml.EventType, state: yaml.State): void => {
    if (event === 'open') {
      stack.push({ line: state.line + 1, kind: null, result: null, children: [] });
      return;
    }
    const frame = stack.pop();
    const parent = stack[stack.length - 1];
    if (!frame || !parent) return;
    frame.kind = (state.kind as string | null) ?? null;
    frame.result = state.result;
    parent.children.push(frame);
  };
  try {
    yaml.load(text, { json: true, listener });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      return { errors: [{ line: (e.mark?.line ?? 0) + 1, message: e.reason || e.message }], warnings: [] };
    }
    throw e;
  }
  const top = stack[0]?.children[0];
  const errors: YamlProblem[] = [];
  const warnings: YamlProblem[] = [];
  const root = top ? merge(toNode(top), errors, warnings) : undefined;
  return { root, errors, warnings };
}

function toNode(f: Frame): YamlNode {
  if (f.kind === 'sequence') {
    return { kind: 'seq', line: f.line, items: f.children.map(toNode) };
  }
  // Keys and values alternate among a mapping's children. An odd count means a key without a value
  // (`{a, b: 1}`, `? a`): the tree cannot pair them, so js-yaml's object stands in, every key on the map's line.
  if (f.kind === 'mapping' && f.children.length % 2 === 0) {
    const entries: YamlEntry[] = [];
    for (let i = 0; i + 1 < f.children.length; i += 2) {
      const k = f.children[i] as Frame;
      entries.push({ key: String(k.result), line: k.line, value: toNode(f.children[i + 1] as Frame) });
    }
    return { kind: 'map', line: f.line, entries };
  }
  // The same fallback serves aliases (`*name`), whose node is reported without its children.
  if ((f.kind === 'mapping' || f.kind === null) && f.result !== null && typeof f.result === 'object') {
    return fromPlain(f.result, f.line);
  }
  return { kind: 'value', line: f.line, value: f.result };
}

function fromPlain(value: unknown, line: number): YamlNode {
  if (Array.isArray(value)) return { kind: 'seq', line, items: value.map((v) => fromPlain(v, line)) };
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return { kind: 'map', line, entries: Object.entries(value).map(([key, v]) => ({ key, line, value: fromPlain(v, line) })) };
  }
  return { kind: 'value', line, value };
}

function merge(node: YamlNode, errors: YamlProblem[], warnings: YamlProblem[]): YamlNode {
  if (node.kind === 'seq') return { ...node, items: node.items.map((n) => merge(n, errors, warnings)) };
  if (node.kind !== 'map') return node;
  const out: YamlEntry[] = [];
  const seen = new Map<string, YamlEntry>();
  for (const raw of node.entries) {
    if (raw.key === '<<') {
      errors.push({ line: raw.line, message: 'YAML merge keys (<<) are not supported; use the Default platform' });
      continue;
    }
    const entry = { ...raw, value: merge(raw.value, errors, warnings) };
    const first = seen.get(entry.key);
    if (!first) {
      seen.set(entry.key, entry);
      out.push(entry);
    } else if (first.value.kind === 'seq' && entry.value.kind === 'seq') {
      warnings.push({
        line: entry.line,
        message: `key '${entry.key}' is repeated on lines ${first.line} and ${entry.line}; its lists are merged in order`,
      });
      first.value = { ...first.value, items: [...first.value.items, ...entry.value.items] };
    } else {
      errors.push({
        line: entry.line,
        message: `key '${entry.key}' is repeated on lines ${first.line} and ${entry.line}; only lists may be repeated`,
      });
    }
  }
  return { ...node, entries: out };
}

/** The plain value of a node, as js-yaml would have produced it had the keys not been repeated. */
export function plainValue(node: YamlNode): unknown {
  if (node.kind === 'seq') return node.items.map(plainValue);
  if (node.kind === 'value') return node.value;
  const obj: Record<string, unknown> = {};
  for (const e of node.entries) obj[e.key] = plainValue(e.value);
  return obj;
}

/** The line of the node at `path` (keys and list indexes), or of the deepest node on the way there. */
export function lineAt(node: YamlNode, path: readonly (string | number)[]): number {
  let cur: YamlNode = node;
  let line = node.line;
  for (const step of path) {
    if (cur.kind === 'map' && typeof step === 'string') {
      const e = cur.entries.find((x) => x.key === step);
      if (!e) break;
      line = e.line;
      cur = e.value;
    } else if (cur.kind === 'seq' && typeof step === 'number') {
      const item = cur.items[step];
      if (!item) break;
      line = item.line;
      cur = item;
    } else {
      break;
    }
  }
  return line;
}
