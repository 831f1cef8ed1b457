import type { ValidateFunction } from 'ajv';
import type { FromSchema } from '../catalog/from-schema.js';
import { compileValidator } from '../catalog/validator.js';
import { LocatedInputError, quoted } from '../core/errors.js';
import { dottedPath, pointerPath, problemText, readYamlFile } from '../core/yaml-file.js';
import { addressToBigInt, inBlock, parseBlock, AddressBlock } from './addresses.js';
import type { Catalog } from '../catalog/types.js';
import type { JudgedFlows } from './judged.js';
import { REASON_TEXT } from './texts.js';
import type { RequirementFinding } from './types.js';

/** An accepted exception: a rule, requirement or undocumented port, between given hosts, until a date. */
export interface Waiver {
  rule?: string;
  port?: { proto: string; port: number };
  hosts: AddressBlock[];
  reason: string;
  expires?: string;
  line: number;
  used: number;
}

const schema = {
  type: 'object',
  required: ['waivers'],
  additionalProperties: false,
  properties: {
    waivers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['reason'],
        additionalProperties: false,
        properties: {
          rule: { type: 'string', pattern: '^[a-z0-9-]+:[a-z0-9-]+$' },
          port: { type: 'string', pattern: '^(tcp|udp)/\\d{1,5}$' },
          hosts: { type: 'array', items: { type: 'string' } },
          reason: { type: 'string', minLength: 1 },
          expires: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
        },
      },
    },
  },
} as const;
type RawWaivers = FromSchema<typeof schema>;

// Compiled when a waiver file is first read: most runs have none, and ajv with the compiled schema
// would add some 80 ms to every start-up.
let compiled: ValidateFunction<RawWaivers> | null = null;
const validator = (): ValidateFunction<RawWaivers> => (compiled ??= compileValidator<RawWaivers>(schema));

/** A waiver file that cannot be used: `file:line:col: what is wrong`. */
export class WaiverFileError extends LocatedInputError {}

/** Whether YYYY-MM-DD is a day of the calendar (not 2099-13-45, not 2025-02-29). */
function isCalendarDate(text: string): boolean {
  const [y, m, d] = text.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** Edits (insertions, deletions, substitutions) from a to b: for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/**
 * What a waiver's `rule` may name: every rule and requirement of the catalogs (by the id findings
 * carry: an inherited rule keeps its base catalog's), and the follow-up of an undocumented negotiation
 * (`negotiation:dcerpc-epm`).
 */
function waivableKeys(catalogs: Catalog[]): Set<string> {
  const keys = new Set<string>(Object.keys(REASON_TEXT).map((r) => `negotiation:${r}`));
  for (const c of catalogs) {
    for (const r of c.rules) keys.add(`${r.catalog}:${r.id}`);
    for (const q of c.requirements) keys.add(`${q.catalog}:${q.id}`);
  }
  return keys;
}

/**
 * A waiver file, checked against the catalogs of the run: a rule that names nothing they hold (a
 * misspelt id would waive nothing, silently), a date that is not a day, a port out of range or a key
 * the format does not have is an error at its file:line:col.
 */
export function loadWaivers(file: string, catalogs: Catalog[]): Waiver[] {
  const yaml = readYamlFile(file, 'waiver file');
  const raw = yaml.toJS();
  const fail = (path: Array<string | number>, message: string) => new WaiverFileError(problemText([yaml.problemAt(path, message)]));
  const validate = validator();
  if (!validate(raw)) {
    const e = validate.errors![0]!;
    if (e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const where = dottedPath(e.instancePath);
      const allowed = where === '' ? '"waivers"' : 'rule, port, hosts, reason, expires';
      throw fail([...pointerPath(e.instancePath), key], `${where ? `${where}: ` : ''}unknown key ${quoted(key)} (a waiver file has ${allowed})`);
    }
    throw fail(pointerPath(e.instancePath), `${dottedPath(e.instancePath) || 'the file'} ${e.message}${e.keyword === 'pattern' ? ' (rule as catalog:id, port as tcp/1234, expires as YYYY-MM-DD)' : ''}`);
  }
  let keys: Set<string> | null = null;
  return raw.waivers.map((w, i) => {
    if (!w.rule && !w.port) throw fail(['waivers', i], 'a waiver names a "rule" (catalog:id) or a "port" (tcp/1234)');
    if (w.rule !== undefined && !(keys ??= waivableKeys(catalogs)).has(w.rule)) {
      const near = [...keys].map((k) => [k, distance(k, w.rule!)] as const).filter(([, d]) => d <= 3).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
      const hint = near.length > 0 ? `; did you mean ${quoted(near[0]![0])}?` : ` (catalogs: ${catalogs.map((c) => c.id).join(', ')})`;
      throw fail(['waivers', i, 'rule'], `waivers.${i}.rule: ${quoted(w.rule)} is no rule or requirement of the catalogs${hint}`);
    }
    if (w.expires !== undefined && !isCalendarDate(w.expires)) throw fail(['waivers', i, 'expires'], `waivers.${i}.expires: ${quoted(w.expires)} is not a date (YYYY-MM-DD)`);
    if (w.port !== undefined) {
      const n = Number(w.port.split('/')[1]);
      if (n < 1 || n > 65535) throw fail(['waivers', i, 'port'], `waivers.${i}.port: ${quoted(w.port)}: a port is 1 to 65535`);
    }
    const hosts = (w.hosts ?? []).map((h, j) => {
      const b = parseBlock(h);
      if (!b) throw fail(['waivers', i, 'hosts', j], `${quoted(h)} is not an address or CIDR`);
      return b;
    });
    const [proto, port] = w.port ? w.port.split('/') : [];
    return {
      ...(w.rule ? { rule: w.rule } : {}),
      ...(w.port ? { port: { proto: proto!, port: Number(port) } } : {}),
      hosts,
      reason: w.reason,
      ...(w.expires ? { expires: w.expires } : {}),
      line: yaml.locate(['waivers', i]).line,
      used: 0,
    };
  });
}

function hostIn(w: Waiver, addrs: Array<string | null>): boolean {
  if (w.hosts.length === 0) return true;
  return addrs.some((a) => {
    if (a === null) return false;
    const v = addressToBigInt(a);
    return v !== null && w.hosts.some((b) => inBlock(b, v));
  });
}

/** Marks waived findings; expired waivers are not applied. Returns the expired ones. */
export function applyWaivers(waivers: Waiver[], flows: JudgedFlows, requirements: RequirementFinding[], today: string): Waiver[] {
  const active = waivers.filter((w) => !w.expires || w.expires >= today);
  // The active waivers by the rule and by the port they name, in file order: a flow asks only those
  // (a waiver file may hold a hundred thousand waivers, a capture as many findings).
  const byRule = new Map<string, Waiver[]>();
  const byPort = new Map<string, Waiver[]>();
  const file = (map: Map<string, Waiver[]>, key: string, w: Waiver) => {
    const list = map.get(key);
    if (list) list.push(w);
    else map.set(key, [w]);
  };
  active.forEach((w) => {
    if (w.rule) file(byRule, w.rule, w);
    if (w.port) file(byPort, `${w.port.proto}/${w.port.port}`, w);
  });
  const order = new Map(active.map((w, i) => [w, i]));
  /** The first waiver in file order among both lists that holds one of the hosts. */
  const first = (lists: Array<Waiver[] | undefined>, addrs: Array<string | null>): Waiver | undefined => {
    let best: Waiver | undefined;
    for (const list of lists) {
      const w = list?.find((x) => hostIn(x, addrs));
      if (w && (best === undefined || order.get(w)! < order.get(best)!)) best = w;
    }
    return best;
  };
  const hosts = flows.columns.hosts;
  for (let i = 0; active.length > 0 && i < flows.length; i++) {
    const j = flows.judgement(i);
    if (j.verdict === 'expected' || j.verdict === 'background') continue;
    const w = first([j.rule ? byRule.get(j.rule) : undefined, byPort.get(`${flows.proto(i)}/${flows.serverPort(i)}`)], [hosts[flows.client(i)]!, hosts[flows.server(i)]!]);
    if (w) {
      flows.waive(i, { reason: w.reason, ...(w.expires ? { expires: w.expires } : {}) });
      w.used++;
    }
  }
  for (const r of requirements) {
    if (r.status === 'satisfied') continue;
    const w = first([byRule.get(r.rule)], [r.from, r.to]);
    if (w) {
      r.waived = { reason: w.reason, ...(w.expires ? { expires: w.expires } : {}) };
      w.used++;
    }
  }
  return waivers.filter((w) => w.expires && w.expires < today);
}
