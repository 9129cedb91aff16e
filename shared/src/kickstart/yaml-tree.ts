// YAML with line numbers and tolerated repeated keys.
//
// js-yaml gives plain objects without positions and rejects a repeated key, yet templates written for
// kickstarter repeat keys (the seed's NETBOOK has `PostScripts:` twice), and every error must name a line.
// So the document is loaded in js-yaml's `json` mode (repeated keys allowed) with its `listener` hook,
// which reports the opening and closing of every node: the nodes are rebuilt as a tree that keeps each
// key's line and every occurrence of a repeated key. Repeated keys whose values are lists are merged in
// order with a warning; any other repeated key is an error naming both lines.
//
// The YAML comes from strangers, so it is bounded before anything is built from it: its nesting
// (js-yaml's own recursion, and ours) is capped at MAX_YAML_DEPTH, and aliases, which js-yaml keeps
// as shared references but a tree must copy, are either refused (overlays) or counted, with the
// whole tree, expansions included, capped at MAX_YAML_NODES: seven levels of nine aliases each
// would otherwise be 4.7 million nodes from 387 bytes.
import yaml from 'js-yaml';
import { MAX_YAML_DEPTH, MAX_YAML_NODES } from './limits.ts';

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
  /** The text went past one of the bounds (aliases, nesting, size): it is refused whatever it was meant as. */
  limit?: true;
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
  /** Where js-yaml began reading the node: an alias's `*` is the first thing after it but blanks. */
  start: number;
  alias?: boolean;
}

export interface YamlLoadOptions {
  /** Set (to what the text is, e.g. 'an overlay'): an alias is an error naming its line. Unset: aliases are expanded, within MAX_YAML_NODES. */
  refuseAliasesIn?: string;
}

/** Thrown from inside the walk to stop it at the first node past a bound. */
class Bound extends Error {
  constructor(readonly line: number, readonly problem: string) {
    super(problem);
  }
}

export function loadYamlTree(text: string, opts: YamlLoadOptions = {}): YamlLoadResult {
  const stack: Frame[] = [{ line: 1, kind: null, result: null, children: [], start: 0 }];
  const listener = (event: yaml.EventType, state: yaml.State): void => {
    if (event === 'open') {
      stack.push({ line: state.line + 1, kind: null, result: null, children: [], start: state.position });
      return;
    }
    const frame = stack.pop();
    const parent = stack[stack.length - 1];
    if (!frame || !parent) return;
    frame.kind = (state.kind as string | null) ?? null;
    frame.result = state.result;
    // No kind and a value: js-yaml read an alias (or, rarely, an explicitly tagged empty node).
    if (frame.kind === null && frame.result !== null && frame.result !== undefined) {
      const star = text.slice(frame.start, state.position).search(/\*/);
      if (star >= 0 && /^[\s]*(#[^\n]*\n[\s]*)*$/.test(text.slice(frame.start, frame.start + star))) {
        frame.alias = true;
        // js-yaml has read past the alias and the blanks after it: its line less the line breaks since the `*`.
        frame.line = state.line + 1 - (text.slice(frame.start + star, state.position).split('\n').length - 1);
        if (opts.refuseAliasesIn !== undefined) {
          const name = /^\*[^\s,\[\]{}]{0,64}/.exec(text.slice(frame.start + star, frame.start + star + 66))?.[0] ?? '*';
          throw new Bound(frame.line, `YAML aliases (${name}) are not allowed in ${opts.refuseAliasesIn}: write the values out`);
        }
      }
    }
    parent.children.push(frame);
  };
  const budget = { nodes: 0 };
  try {
    // maxDepth bounds js-yaml's recursion (and so the tree's depth) whatever its default is.
    yaml.load(text, { json: true, listener, maxDepth: MAX_YAML_DEPTH } as yaml.LoadOptions);
    const top = stack[0]?.children[0];
    const errors: YamlProblem[] = [];
    const warnings: YamlProblem[] = [];
    const root = top ? merge(toNode(top, budget, 0), errors, warnings) : undefined;
    return { root, errors, warnings };
  } catch (e) {
    if (e instanceof Bound) return { errors: [{ line: e.line, message: e.problem, limit: true }], warnings: [] };
    if (e instanceof yaml.YAMLException) {
      const line = (e.mark?.line ?? 0) + 1;
      if (/maxDepth/.test(e.reason)) {
        return { errors: [{ line, message: `the YAML is nested more than ${MAX_YAML_DEPTH} deep: the limit is ${MAX_YAML_DEPTH}`, limit: true }], warnings: [] };
      }
      return { errors: [{ line, message: e.reason || e.message }], warnings: [] };
    }
    throw e;
  }
}

function count(budget: { nodes: number }, line: number, depth: number, viaAlias: boolean): void {
  if (++budget.nodes > MAX_YAML_NODES) {
    throw new Bound(line, `the YAML has more than ${MAX_YAML_NODES} nodes${viaAlias ? ' once the aliases on this line are expanded' : ''}: the limit is ${MAX_YAML_NODES}`);
  }
  if (depth > MAX_YAML_DEPTH) {
    throw new Bound(line, `the YAML is nested more than ${MAX_YAML_DEPTH} deep${viaAlias ? ' once the aliases on this line are expanded' : ''}: the limit is ${MAX_YAML_DEPTH}`);
  }
}

function toNode(f: Frame, budget: { nodes: number }, depth: number): YamlNode {
  if (f.alias) return fromPlain(f.result, f.line, budget, depth, true);
  count(budget, f.line, depth, false);
  if (f.kind === 'sequence') {
    return { kind: 'seq', line: f.line, items: f.children.map((c) => toNode(c, budget, depth + 1)) };
  }
  // Keys and values alternate among a mapping's children. An odd count means a key without a value
  // (`{a, b: 1}`, `? a`): the tree cannot pair them, so js-yaml's object stands in, every key on the map's line.
  if (f.kind === 'mapping' && f.children.length % 2 === 0) {
    const entries: YamlEntry[] = [];
    for (let i = 0; i + 1 < f.children.length; i += 2) {
      const k = f.children[i] as Frame;
      entries.push({ key: String(k.result), line: k.line, value: toNode(f.children[i + 1] as Frame, budget, depth + 1) });
    }
    return { kind: 'map', line: f.line, entries };
  }
  if ((f.kind === 'mapping' || f.kind === null) && f.result !== null && typeof f.result === 'object') {
    budget.nodes--;
    return fromPlain(f.result, f.line, budget, depth, false);
  }
  return { kind: 'value', line: f.line, value: f.result };
}

/** A js-yaml value as a tree, every node on `line`: what an alias (`*name`) stands for, counted node by node. */
function fromPlain(value: unknown, line: number, budget: { nodes: number }, depth: number, viaAlias: boolean): YamlNode {
  count(budget, line, depth, viaAlias);
  if (Array.isArray(value)) return { kind: 'seq', line, items: value.map((v) => fromPlain(v, line, budget, depth + 1, viaAlias)) };
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return {
      kind: 'map', line,
      entries: Object.entries(value).map(([key, v]) => ({ key, line, value: fromPlain(v, line, budget, depth + 1, viaAlias) })),
    };
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
