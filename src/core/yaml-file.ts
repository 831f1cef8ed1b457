import { Composer, Document, isAlias, isCollection, isMap, isNode, isPair, isScalar, Lexer, LineCounter, Parser, type Node as YamlNode } from 'yaml';
import { LocatedInputError } from './errors.js';
import { readUserFile } from './user-file.js';

/** Collections nested deeper than this are refused: the catalogs need six levels, the role map three. */
export const YAML_DEPTH_LIMIT = 64;
/** Aliases may add at most this many nodes to a file (a "billion laughs" adds 10^9 from a few lines). */
export const YAML_ALIAS_NODE_LIMIT = 100_000;

export interface YamlProblem {
  file: string;
  line: number;
  col: number;
  message: string;
}

/**
 * Problems as a person reads them: a line `file:line:col: message` each, the first `shown` of them,
 * then one line counting the rest (`more` counts those not even kept).
 */
export function problemText(problems: readonly YamlProblem[], shown = problems.length, more = 0): string {
  const lines = problems.slice(0, shown).map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`);
  const rest = more + Math.max(0, problems.length - shown);
  if (rest > 0) lines.push(`${problems[0]!.file}: … and ${rest} more problems`);
  return lines.join('\n');
}

/** A JSON pointer as ajv gives a value's place (`/rules/3/id`) → the path of keys and indexes. */
export function pointerPath(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** A JSON pointer as a message names the place: `rules.3.id` (empty for the whole file). */
export function dottedPath(pointer: string): string {
  return pointer.slice(1).replace(/\//g, '.');
}

/** A file that is not the YAML it should be: one problem, printed as `file:line:col: message`. */
export class YamlFileError extends LocatedInputError {
  constructor(readonly problem: YamlProblem) {
    super(problemText([problem]));
    this.name = 'YamlFileError';
  }
}

/** One parsed YAML file: its document, and where its nodes are. */
export interface YamlFile {
  file: string;
  doc: Document.Parsed;
  /** Line and column (1-based) of a character offset. */
  position(offset: number): { line: number; col: number };
  /** Line and column of the node at a path of keys and indexes, or of its nearest ancestor that exists. */
  locate(path: ReadonlyArray<string | number>): { line: number; col: number };
  /** A problem at the node at a path (located as by locate). */
  problemAt(path: ReadonlyArray<string | number>, message: string): YamlProblem;
  /** The node an alias stands for (the node itself when it is none). */
  resolve(node: unknown): unknown;
  /** The document as plain values, aliases expanded (checked: bounded in size and depth). */
  toJS(): unknown;
}

/** The problem as a YamlFileError at a character offset. */
function problemAt(file: string, lc: LineCounter, offset: number, message: string): YamlFileError {
  const { line, col } = lc.linePos(offset);
  return new YamlFileError({ file, line, col, message });
}

/** The first line of a message from the YAML library, cut short when it quotes a long stretch of the file. */
function yamlMessage(text: string): string {
  const first = text.split('\n')[0]!;
  return `YAML: ${first.length > 200 ? `${first.slice(0, 200)}…` : first}`;
}

/**
 * Lexes the text for the parser and refuses nesting deeper than the limit before it is built: flow
 * collections (`[[[[…`) and block sequences or explicit keys started on one line (`- - - -…`) cost a
 * few bytes a level, and the parser's and composer's work grows with the depth. (Deeper nesting by
 * indentation costs a line of growing indentation a level; the node walk below measures it.)
 */
function* depthCheckedTokens(file: string, text: string, lc: LineCounter): Generator<ReturnType<Parser['next']> extends Generator<infer T> ? T : never> {
  const parser = new Parser(lc.addNewLine);
  lc.addNewLine(0); // Parser.parse() does this; the lexemes are fed to next() here.
  let offset = 0;
  let flow = 0;
  let onLine = 0;
  let scalarNext = false;
  for (const lexeme of new Lexer().lex(text)) {
    if (scalarNext) scalarNext = false;
    else
      switch (lexeme) {
        case '\x1f': // the next lexeme is a scalar's source
          scalarNext = true;
          break;
        case '[':
        case '{':
          if (++flow + onLine > YAML_DEPTH_LIMIT) throw problemAt(file, lc, offset, `YAML: collections nested deeper than ${YAML_DEPTH_LIMIT} levels`);
          break;
        case ']':
        case '}':
          if (flow > 0) flow--;
          break;
        case '-':
        case '?':
          if (flow === 0 && ++onLine > YAML_DEPTH_LIMIT) throw problemAt(file, lc, offset, `YAML: collections nested deeper than ${YAML_DEPTH_LIMIT} levels`);
          break;
        case '\n':
        case '\r\n':
          onLine = 0;
          break;
      }
    yield* parser.next(lexeme);
    // The parser's own offsets skip its control lexemes: document mode, flow error end, scalar marker.
    if (lexeme !== '\x02' && lexeme !== '\x18' && lexeme !== '\x1f') offset += lexeme.length;
  }
  yield* parser.end();
}

/**
 * Aliases checked before anything expands them: each names an anchor set before it, outside the
 * node it stands in; what they add stays under YAML_ALIAS_NODE_LIMIT nodes, and the nesting they
 * make under YAML_DEPTH_LIMIT. (The library's maxAliasCount counts differently and names no place.)
 * Also measures the nesting that indentation makes. Recursive: the depth is bounded by the lexer's
 * check and by the composer, which reports a stack overflow as an error of its own.
 */
function checkNodes(file: string, doc: Document.Parsed, lc: LineCounter): Map<YamlNode, YamlNode> {
  const anchors = new Map<string, YamlNode>();
  /** Height (levels of collections) and size (nodes) of the anchored nodes already walked. */
  const measured = new Map<YamlNode, { height: number; size: number }>();
  const targets = new Map<YamlNode, YamlNode>();
  let added = 0;
  const at = (node: YamlNode, message: string) => problemAt(file, lc, node.range?.[0] ?? 0, message);
  const walk = (node: unknown, level: number): { height: number; size: number } => {
    if (!isNode(node)) return { height: 0, size: 0 };
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) throw at(node, `YAML: alias *${node.source.slice(0, 60)} has no anchor &${node.source.slice(0, 60)} before it`);
      const m = measured.get(target);
      if (!m) throw at(node, `YAML: alias *${node.source.slice(0, 60)} stands inside the node it names`);
      if (level + m.height > YAML_DEPTH_LIMIT) throw at(node, `YAML: alias *${node.source.slice(0, 60)} nests collections deeper than ${YAML_DEPTH_LIMIT} levels`);
      added += m.size;
      if (added > YAML_ALIAS_NODE_LIMIT) throw at(node, `YAML: aliases expand to more than ${YAML_ALIAS_NODE_LIMIT} nodes (at *${node.source.slice(0, 60)})`);
      targets.set(node, target);
      return m;
    }
    if (node.anchor) anchors.set(node.anchor, node);
    let out = { height: 0, size: 1 };
    if (isCollection(node)) {
      if (level + 1 > YAML_DEPTH_LIMIT) throw at(node, `YAML: collections nested deeper than ${YAML_DEPTH_LIMIT} levels`);
      let height = 0;
      let size = 1;
      for (const item of node.items) {
        // A list, a map or binary data as a key (`[a]: 1`, `? {a: 1}`, `!!binary …:`) has no name in
        // JSON: the library would stringify it with a warning on stderr. No file of ours has one.
        if (isPair(item) && isNode(item.key)) {
          const key = isAlias(item.key) ? anchors.get(item.key.source) : item.key;
          if (isCollection(key) || (isScalar(key) && typeof key.value === 'object' && key.value !== null)) throw at(item.key, 'YAML: a key is a list, a map or binary data; keys are names');
        }
        const parts = isPair(item) ? [item.key, item.value] : [item];
        for (const part of parts) {
          const m = walk(part, level + 1);
          if (m.height > height) height = m.height;
          size += m.size;
        }
      }
      out = { height: height + 1, size };
    }
    if (node.anchor) measured.set(node, out);
    return out;
  };
  walk(doc.contents, 0);
  return targets;
}

/**
 * Parses the text of a user's YAML file (a catalog, a role map, a waiver file). Every way it can fail
 * to be one usable document — a syntax error, a duplicate key, an alias without its anchor, aliases
 * that expand too far, nesting too deep, a second document — is a YamlFileError of one line,
 * `file:line:col: YAML: …`.
 */
export function parseYamlFile(file: string, text: string): YamlFile {
  const lc = new LineCounter();
  const composer = new Composer({ uniqueKeys: true });
  let doc: Document.Parsed | null = null;
  for (const d of composer.compose(depthCheckedTokens(file, text, lc), true, text.length)) {
    if (doc) throw problemAt(file, lc, d.range[0], 'YAML: a second document: the file holds one');
    doc = d;
  }
  if (!doc) throw new YamlFileError({ file, line: 1, col: 1, message: 'YAML: the file is empty' });
  const e = doc.errors[0];
  if (e) {
    // The composer catches its own stack overflow; the only cause in a file within the size limit is depth.
    const message = e.code === 'RESOURCE_EXHAUSTION' ? `YAML: collections nested deeper than ${YAML_DEPTH_LIMIT} levels` : yamlMessage(e.message);
    throw problemAt(file, lc, e.pos[0], message);
  }
  const targets = checkNodes(file, doc, lc);
  const position = (offset: number) => lc.linePos(offset);
  const parsed = doc;
  return {
    file,
    doc,
    position,
    locate: (path) => locate(parsed, lc, path),
    problemAt: (path, message) => ({ file, ...locate(parsed, lc, path), message }),
    resolve: (node) => (isAlias(node) ? (targets.get(node) ?? node) : node),
    toJS: () => {
      // The library's own alias bound stays on behind the check above, which is the stricter one.
      try {
        return parsed.toJS({ maxAliasCount: YAML_ALIAS_NODE_LIMIT });
      } catch (e) {
        if (!(e instanceof ReferenceError)) throw e;
        const first = targets.keys().next().value as YamlNode | undefined;
        throw problemAt(file, lc, first?.range?.[0] ?? 0, yamlMessage(e.message));
      }
    },
  };
}

/** Reads (see readUserFile: a regular file, at most 16 MiB) and parses a user's YAML file. */
export function readYamlFile(file: string, what: string): YamlFile {
  return parseYamlFile(file, readUserFile(file, what));
}

/** Line and column of the node at `path`, or of its nearest ancestor that exists. */
function locate(doc: Document.Parsed, lc: LineCounter, path: ReadonlyArray<string | number>): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]);
    // A key without a value: point at the key.
    const parent = n > 0 ? (n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true)) : null;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[n - 1]);
      if (isNode(pair?.key) && pair.key.range) return lc.linePos(pair.key.range[0]);
    }
  }
  return { line: 1, col: 1 };
}
