import type { ValidateFunction } from 'ajv';
import type { FromSchema } from '../catalog/from-schema.js';
import { compileValidator } from '../catalog/validator.js';
import { LocatedInputError, quoted } from '../core/errors.js';
import { dottedPath, pointerPath, problemText, readYamlFile } from '../core/yaml-file.js';
import { addressToBigInt, inBlock, parseBlock, AddressBlock } from './addresses.js';
import type { JudgedFlows } from './judged.js';
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

export function loadWaivers(file: string): Waiver[] {
  const yaml = readYamlFile(file, 'waiver file');
  const raw = yaml.toJS();
  const fail = (path: Array<string | number>, message: string) => new WaiverFileError(problemText([yaml.problemAt(path, message)]));
  const validate = validator();
  if (!validate(raw)) {
    const e = validate.errors![0]!;
    throw fail(pointerPath(e.instancePath), `${dottedPath(e.instancePath) || 'the file'} ${e.message}${e.keyword === 'pattern' ? ' (rule as catalog:id, port as tcp/1234, expires as YYYY-MM-DD)' : ''}`);
  }
  return raw.waivers.map((w, i) => {
    if (!w.rule && !w.port) throw fail(['waivers', i], 'a waiver names a "rule" (catalog:id) or a "port" (tcp/1234)');
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
    if (j.verdict === 'expected') continue;
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
