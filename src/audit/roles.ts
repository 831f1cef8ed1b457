import { isMap, isScalar, isSeq, type Pair } from 'yaml';
import { LocatedInputError, quoted, someOf } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import { parseYamlFile, problemText, type YamlProblem } from '../core/yaml-file.js';
import { playedRoles, type Catalog, type Role } from '../catalog/types.js';
import { addressToBigInt, AddressBlock, AddressSpace, BlockIndex, canonicalAddress, parseBlock } from './addresses.js';

/** A role map problem names the file and line, like a catalog problem. */
export class RoleMapError extends LocatedInputError {}

export interface RoleMap {
  file: string;
  /** role id → the blocks the user gave. */
  given: Map<string, AddressBlock[]>;
  /** `site:`: prefixes inside the site besides the default space and the role map's own addresses. */
  site: AddressBlock[];
}

/** At most this many problems of a role map are listed: a map of a million bad entries stays readable. */
const PROBLEMS_SHOWN = 20;

/**
 * Reads `roles: { role-id: [address or CIDR, …] }` and, optionally, `site: [prefix, …]` (the site's own
 * prefixes: public blocks used inside, for which `external` must not hold). Role ids must exist in one
 * of the catalogs; every mistake is reported with file, line and column.
 */
export function loadRoleMap(file: string, catalogs: Catalog[]): RoleMap {
  const text = readUserFile(file, 'role map');
  const known = new Map<string, Role>();
  for (const c of catalogs) for (const r of c.roles) known.set(r.id, r);
  const plain = readPlainRoleMap(text, (id) => known.has(id) && !known.get(id)!.address);
  return plain ? { file, ...plain } : readRoleMapYaml(file, text, catalogs, known);
}

/** An address as a plain YAML scalar that is a string whatever the schema: it starts with a digit or a hex letter. */
const PLAIN_ADDRESS = /^[0-9A-Fa-f][0-9A-Fa-f.:/]*$/;
const PLAIN_KEY = /^( *)([a-z][a-z0-9-]*):(?: +(.*))?$/;
const PLAIN_ITEM = /^( *)- +(\S+)$/;

/**
 * A role map in the plain shape a script writes, read line by line: `roles:` and `site:` at the left
 * margin, role ids one indent in, addresses as `- address` items or one `[a, b, …]` list on the key's
 * line, comments and blank lines. The YAML library takes some 20 µs an address (a 500 000-host map:
 * 10 s and 450 MB); this reads the same map in a fraction of that. Anything else — quotes, anchors,
 * tabs, other keys, a duplicate key, an unknown role, a bad address — gives null, and the YAML reader
 * takes the file and names the problem: both give the same map for the files this one reads.
 */
export function readPlainRoleMap(text: string, usable: (id: string) => boolean): Pick<RoleMap, 'given' | 'site'> | null {
  const given = new Map<string, AddressBlock[]>();
  let site: AddressBlock[] | null = null;
  let section: 'roles' | 'site' | null = null;
  let rolesIndent = -1;
  /** The key whose `- address` items follow: its list, its indent, its items' indent (-1 until the first). */
  let open: { list: AddressBlock[]; indent: number; itemIndent: number; count: number } | null = null;
  const addAll = (list: AddressBlock[], texts: string[]): boolean => {
    for (const t of texts) {
      if (!PLAIN_ADDRESS.test(t)) return false;
      const b = parseBlock(t);
      if (!b) return false;
      list.push(b);
    }
    return true;
  };
  /** A flow list `[a, b]` or one address: the items, or null when it is neither in plain form. */
  const inline = (rest: string): string[] | null => {
    if (rest.startsWith('[') && rest.endsWith(']')) {
      const inner = rest.slice(1, -1).trim();
      return inner === '' ? [] : inner.split(',').map((x) => x.trim());
    }
    return PLAIN_ADDRESS.test(rest) ? [rest] : null;
  };
  const close = () => open === null || open.count > 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const hash = line.indexOf('#');
    if (hash >= 0) {
      if (hash > 0 && line[hash - 1] !== ' ') return null;
      line = line.slice(0, hash);
    }
    line = line.trimEnd();
    if (line === '') continue;
    if (line.includes('\t')) return null;
    const item = PLAIN_ITEM.exec(line);
    if (item) {
      const indent = item[1]!.length;
      if (open === null || indent < open.indent || (open.itemIndent >= 0 && indent !== open.itemIndent)) return null;
      open.itemIndent = indent;
      open.count++;
      if (!addAll(open.list, [item[2]!])) return null;
      continue;
    }
    const key = PLAIN_KEY.exec(line);
    if (!key || !close()) return null;
    open = null;
    const indent = key[1]!.length;
    const id = key[2]!;
    const rest = key[3];
    if (indent === 0) {
      if (id === 'roles' && rest === undefined && section !== 'roles' && rolesIndent < 0) {
        section = 'roles';
        continue;
      }
      if (id !== 'site' || site !== null) return null;
      section = 'site';
      site = [];
      if (rest === undefined) open = { list: site, indent: 0, itemIndent: -1, count: 0 };
      else {
        const texts = inline(rest);
        if (texts === null || texts.length === 0 || !addAll(site, texts)) return null;
      }
      continue;
    }
    if (section !== 'roles' || (rolesIndent >= 0 && indent !== rolesIndent) || given.has(id) || !usable(id)) return null;
    rolesIndent = indent;
    const list: AddressBlock[] = [];
    given.set(id, list);
    if (rest === undefined) open = { list, indent, itemIndent: -1, count: 0 };
    else {
      const texts = inline(rest);
      if (texts === null || !addAll(list, texts)) return null;
    }
  }
  if (!close() || rolesIndent < 0) return null;
  return { given, site: site ?? [] };
}

function readRoleMapYaml(file: string, text: string, catalogs: Catalog[], known: Map<string, Role>): RoleMap {
  const yaml = parseYamlFile(file, text);
  const problems: YamlProblem[] = [];
  let more = 0;
  // Kept in the order found, the first PROBLEMS_SHOWN of them: the rest are only counted.
  const at = (offset: number | undefined, message: string) => {
    if (problems.length >= PROBLEMS_SHOWN) return void more++;
    problems.push({ file, ...yaml.position(offset ?? 0), message });
  };
  const failed = () => new RoleMapError(problemText(problems, PROBLEMS_SHOWN, more));
  const root = yaml.resolve(yaml.doc.contents);
  const rolesNode = isMap(root) ? yaml.resolve(root.get('roles', true)) : undefined;
  if (!isMap(root) || !isMap(rolesNode)) {
    throw new RoleMapError(problemText([{ file, line: 1, col: 1, message: 'a role map is a mapping "roles:" of role id → list of addresses and CIDRs' }]));
  }
  /** The items of a list (or the one value given instead of a list), aliases resolved. */
  const itemsOf = (value: unknown): unknown[] => {
    const v = yaml.resolve(value);
    return isSeq(v) ? v.items.map((x) => yaml.resolve(x)) : [v];
  };
  const textOf = (item: unknown) => (isScalar(item) ? String(item.value) : '');
  const offsetOf = (item: unknown, fallback: unknown) => (isScalar(item) ? item.range?.[0] : undefined) ?? (isScalar(fallback) ? fallback.range?.[0] : undefined);
  const site: AddressBlock[] = [];
  for (const pair of root.items as Pair[]) {
    const keyNode = yaml.resolve(pair.key);
    const key = textOf(keyNode);
    if (key === 'site') {
      const value = yaml.resolve(pair.value);
      if (value === null || (isSeq(value) && value.items.length === 0)) at(offsetOf(keyNode, null), '"site" lists the site\'s own prefixes, e.g. site: [130.1.0.0/16, 2001:db8::/32]');
      for (const item of itemsOf(value)) {
        if (item === null) continue;
        const v = textOf(item);
        const b = parseBlock(v);
        if (!b) at(offsetOf(item, keyNode), `site: ${quoted(v)} is not an IPv4/IPv6 prefix (address/length, e.g. 130.1.0.0/16)`);
        else site.push(b);
      }
    } else if (key !== 'roles') at(offsetOf(keyNode, null), `unknown key ${quoted(key)} (a role map has "roles" and, optionally, "site")`);
  }
  const given = new Map<string, AddressBlock[]>();
  for (const pair of rolesNode.items as Pair[]) {
    const keyNode = yaml.resolve(pair.key);
    const id = textOf(keyNode);
    const role = known.get(id);
    if (!role) {
      at(offsetOf(keyNode, null), `unknown role ${quoted(id)} (roles of ${catalogs.map((c) => c.id).join(', ')}: ${someOf([...known.keys()].filter((k) => !known.get(k)!.address))})`);
      continue;
    }
    if (role.address) {
      at(offsetOf(keyNode, null), `role ${quoted(id)} is an address class (${role.address}): it is not given in a role map`);
      continue;
    }
    let blocks = given.get(id);
    if (!blocks) given.set(id, (blocks = []));
    for (const item of itemsOf(pair.value)) {
      const v = textOf(item);
      const b = parseBlock(v);
      if (!b) at(offsetOf(item, keyNode), `${quoted(v)} is not an IPv4/IPv6 address or CIDR`);
      else blocks.push(b);
    }
  }
  if (problems.length) throw failed();
  return { file, given, site };
}

const NO_ROLES: string[] = [];
const UNKNOWN: { roles: string[]; source: 'unknown' } = Object.freeze({ roles: NO_ROLES, source: 'unknown' as const });

/**
 * Answers "which roles does this address play": from the role map, from the catalogs' address
 * classes (broadcast, multicast, external, any), and from inference where no map says. Given and
 * inferred roles come with the roles they act as (the catalogs' acts-as, transitively), after them:
 * a host the map calls relay is a relay, then a client.
 */
export class RoleResolver {
  readonly inferred = new Map<string, Set<string>>();
  private readonly classRoles: Array<{ id: string; address: NonNullable<Role['address']> }>;
  /** Which addresses are inside the site, broadcasts, and may be given inferred roles. */
  readonly space: AddressSpace;
  private readonly cache = new Map<string, string[]>();
  private readonly classSets = new Map<number, string[]>();
  /** Role id → the roles it acts as, transitively (only roles that declare acts-as). */
  private readonly played: Map<string, string[]>;
  private readonly playingCache = new Map<string, string[]>();
  /** The role map's blocks, indexed: each block's value is its role's place in `roleIds`. */
  private readonly index = new BlockIndex();
  private readonly roleIds: string[] = [];

  constructor(
    readonly map: RoleMap | null,
    catalogs: Catalog[],
    space?: AddressSpace,
  ) {
    this.classRoles = [];
    for (const c of catalogs) for (const r of c.roles) if (r.address && !this.classRoles.some((x) => x.id === r.id)) this.classRoles.push({ id: r.id, address: r.address });
    this.space = space ?? new AddressSpace({ site: map?.site ?? [], subnets: map ? [...map.given.values()].flat() : [] });
    this.played = playedRoles(catalogs);
    for (const [role, blocks] of map?.given ?? []) {
      const i = this.roleIds.push(role) - 1;
      for (const b of blocks) this.index.add(b, i);
    }
  }

  /** Roles as the map or inference gave them, followed by the roles they act as. */
  private withPlayed(roles: string[]): string[] {
    if (this.played.size === 0 || !roles.some((r) => this.played.has(r))) return roles;
    const out = [...roles];
    for (const r of roles) for (const x of this.played.get(r) ?? NO_ROLES) if (!out.includes(x)) out.push(x);
    return out;
  }

  /** Roles the role map gives this address, then the roles they act as. */
  givenRoles(addr: string): string[] {
    if (!this.map) return NO_ROLES;
    const cached = this.playingCache.get(addr);
    if (cached) return cached;
    const out = this.withPlayed(this.mapRoles(addr));
    this.playingCache.set(addr, out);
    return out;
  }

  /** Roles the role map itself gives this address (no acts-as). */
  private mapRoles(addr: string): string[] {
    if (!this.map) return NO_ROLES;
    const cached = this.cache.get(addr);
    if (cached) return cached;
    const a = addressToBigInt(addr);
    if (a === null) return NO_ROLES;
    // The network and broadcast addresses of a subnet are not its hosts, nor is any broadcast or
    // multicast address a block covers (a role map entry naming the address itself is the user's word).
    const hostless = this.space.isHostless(addr);
    const full = a.family === 4 ? 32 : 128;
    let found: number[] | null = null;
    this.index.forEach(a, (role, prefix, lo) => {
      const isHost = prefix === full || (!hostless && (a.family !== 4 || prefix > 30 || (a.value !== lo && a.value !== lo + (1n << BigInt(32 - prefix)) - 1n)));
      if (isHost && !(found ??= []).includes(role)) found.push(role);
    });
    // In the order the map lists its roles.
    const out = found === null ? NO_ROLES : (found as number[]).sort((x, y) => x - y).map((i) => this.roleIds[i]!);
    this.cache.set(addr, out);
    return out;
  }

  /** Address-class roles this address falls in (the audit asks once a host: no cache). */
  classRolesOf(addr: string): string[] {
    // Which class roles hold, as bits: hosts with the same bits share one array (callers never change
    // it), so a few arrays serve hundreds of thousands of hosts and profiles can be told apart by identity.
    const kind = this.space.kindOf(addr);
    let bits = 0;
    for (let i = 0; i < this.classRoles.length; i++) {
      const address = this.classRoles[i]!.address;
      if (address === 'any' || address === kind) bits += 2 ** i;
    }
    let out = this.classSets.get(bits);
    if (!out) this.classSets.set(bits, (out = this.classRoles.filter((_, i) => Math.floor(bits / 2 ** i) % 2 === 1).map((r) => r.id)));
    return out;
  }

  /** Given roles, or inferred ones where the map says nothing. Empty: unknown (one shared answer). */
  rolesOf(addr: string): { roles: string[]; source: 'given' | 'inferred' | 'unknown' } {
    const given = this.givenRoles(addr);
    if (given.length) return { roles: given, source: 'given' };
    const inferred = this.inferred.get(addr);
    if (inferred && inferred.size) return { roles: this.withPlayed([...inferred]), source: 'inferred' };
    return UNKNOWN;
  }

  /** Learns roles of an address the map says nothing of; true when one of them is new. */
  infer(addr: string, roles: Iterable<string>): boolean {
    if (this.givenRoles(addr).length || !this.space.mayInfer(addr)) return false;
    let set = this.inferred.get(addr);
    if (!set) this.inferred.set(addr, (set = new Set()));
    const before = set.size;
    for (const r of roles) set.add(r);
    return set.size !== before;
  }

  /** Whether the address has a role, given or inferred (no arrays made: asked for every flow). */
  knowsRole(addr: string, role: string): boolean {
    const given = this.givenRoles(addr);
    if (given.length) return given.includes(role);
    const inferred = this.inferred.get(addr);
    if (!inferred) return false;
    if (inferred.has(role)) return true;
    for (const r of inferred) if (this.played.get(r)?.includes(role)) return true;
    return false;
  }

  /** Whether the address has any role, given or inferred. */
  hasRoles(addr: string): boolean {
    return this.givenRoles(addr).length > 0 || (this.inferred.get(addr)?.size ?? 0) > 0;
  }

  /**
   * Hosts known to hold `role`: single addresses from the map, plus hosts seen inside its CIDRs or
   * inferred. Only the roles the map or inference gave count, not those a host acts as: a for-each
   * requirement covers the hosts listed as that role. A host that acts as an agent because of its own
   * role would otherwise be asked to reach a server it may be itself (bmc-cm's relay, a client of its
   * parent, would be asked to reach "the master or a relay").
   */
  hostsOf(role: string, seen: Iterable<string>): string[] {
    // Without a map the hosts of a role are the ones inferred, all of them seen (learnt from flows).
    if (!this.map) return [...this.inferred].filter(([, set]) => set.has(role)).map(([addr]) => addr);
    const out = new Set<string>();
    for (const b of this.map?.given.get(role) ?? []) {
      if (b.prefix === (b.family === 4 ? 32 : 128)) out.add(canonicalAddress(b.text.split('/')[0]!));
    }
    for (const addr of seen) {
      if (this.mapRoles(addr).includes(role)) out.add(addr);
      else if (this.mapRoles(addr).length === 0 && this.inferred.get(addr)?.has(role)) out.add(addr);
    }
    return [...out];
  }
}
