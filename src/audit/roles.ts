import { LineCounter, parseDocument, isMap, isSeq, isScalar, Pair, Scalar, YAMLMap } from 'yaml';
import { InputError, LocatedInputError, readUserFile } from '../core/errors.js';
import { playedRoles, type Catalog, type Role } from '../catalog/types.js';
import { addressToBigInt, AddressBlock, AddressSpace, canonicalAddress, inBlock, parseBlock } from './addresses.js';

/** A role map problem names the file and line, like a catalog problem. */
export class RoleMapError extends LocatedInputError {}

export interface RoleMap {
  file: string;
  /** role id → the blocks the user gave. */
  given: Map<string, AddressBlock[]>;
  /** `site:`: prefixes inside the site besides the default space and the role map's own addresses. */
  site: AddressBlock[];
}

/**
 * Reads `roles: { role-id: [address or CIDR, …] }` and, optionally, `site: [prefix, …]` (the site's own
 * prefixes: public blocks used inside, for which `external` must not hold). Role ids must exist in one
 * of the catalogs; every mistake is reported with file, line and column.
 */
export function loadRoleMap(file: string, catalogs: Catalog[]): RoleMap {
  const text = readUserFile(file);
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const problems: string[] = [];
  const at = (pos: number | undefined, message: string) => {
    const { line, col } = lc.linePos(pos ?? 0);
    problems.push(`${file}:${line}:${col}: ${message}`);
  };
  for (const e of doc.errors) at(e.pos[0], `YAML: ${e.message.split('\n')[0]}`);
  if (problems.length) throw new RoleMapError(problems.join('\n'));
  const known = new Map<string, Role>();
  for (const c of catalogs) for (const r of c.roles) known.set(r.id, r);
  const root = doc.contents;
  const rolesNode = isMap(root) ? root.get('roles', true) : undefined;
  if (!isMap(root) || !isMap(rolesNode)) {
    throw new RoleMapError(`${file}:1:1: a role map is a mapping "roles:" of role id → list of addresses and CIDRs`);
  }
  const site: AddressBlock[] = [];
  for (const pair of (root as YAMLMap).items as Pair[]) {
    const keyNode = pair.key as Scalar | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    if (key === 'site') {
      const value = pair.value;
      const items = isSeq(value) ? value.items : [value];
      if (value === null || (isSeq(value) && value.items.length === 0)) at(keyNode?.range?.[0], '"site" lists the site\'s own prefixes, e.g. site: [130.1.0.0/16, 2001:db8::/32]');
      for (const item of items) {
        if (item === null) continue;
        const v = isScalar(item) ? String((item as Scalar).value) : '';
        const b = parseBlock(v);
        if (!b) at((item as Scalar | null)?.range?.[0] ?? keyNode?.range?.[0], `site: "${v}" is not an IPv4/IPv6 prefix (address/length, e.g. 130.1.0.0/16)`);
        else site.push(b);
      }
    } else if (key !== 'roles') at(keyNode?.range?.[0], `unknown key "${key}" (a role map has "roles" and, optionally, "site")`);
  }
  const given = new Map<string, AddressBlock[]>();
  for (const pair of (rolesNode as YAMLMap).items as Pair[]) {
    const keyNode = pair.key as Scalar;
    const id = String(keyNode?.value ?? '');
    const role = known.get(id);
    if (!role) {
      at(keyNode?.range?.[0], `unknown role "${id}" (roles of ${catalogs.map((c) => c.id).join(', ')}: ${[...known.keys()].filter((k) => !known.get(k)!.address).join(', ')})`);
      continue;
    }
    if (role.address) {
      at(keyNode?.range?.[0], `role "${id}" is an address class (${role.address}): it is not given in a role map`);
      continue;
    }
    const value = pair.value;
    const items = isSeq(value) ? value.items : [value];
    const blocks: AddressBlock[] = [];
    for (const item of items) {
      const v = isScalar(item) ? String((item as Scalar).value) : '';
      const b = parseBlock(v);
      if (!b) at((item as Scalar | null)?.range?.[0] ?? keyNode?.range?.[0], `"${v}" is not an IPv4/IPv6 address or CIDR`);
      else blocks.push(b);
    }
    given.set(id, [...(given.get(id) ?? []), ...blocks]);
  }
  if (problems.length) throw new RoleMapError(problems.join('\n'));
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

  constructor(
    readonly map: RoleMap | null,
    catalogs: Catalog[],
    space?: AddressSpace,
  ) {
    this.classRoles = [];
    for (const c of catalogs) for (const r of c.roles) if (r.address && !this.classRoles.some((x) => x.id === r.id)) this.classRoles.push({ id: r.id, address: r.address });
    this.space = space ?? new AddressSpace({ site: map?.site ?? [], subnets: map ? [...map.given.values()].flat() : [] });
    this.played = playedRoles(catalogs);
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
    const out: string[] = [];
    // The network and broadcast addresses of a subnet are not its hosts, nor is any broadcast or
    // multicast address a block covers (a role map entry naming the address itself is the user's word).
    const hostless = a !== null && this.space.isHostless(addr);
    const isHost = (b: AddressBlock) =>
      b.prefix === (b.family === 4 ? 32 : 128) || (!hostless && (b.family !== 4 || b.prefix > 30 || (a!.value !== b.lo && a!.value !== b.hi)));
    if (a && this.map) for (const [role, blocks] of this.map.given) if (blocks.some((b) => inBlock(b, a) && isHost(b))) out.push(role);
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
