import type { Catalog } from '../catalog/types.js';
import type { FlowColumns } from '../flow/columns.js';
import type { RoleResolver } from './roles.js';
import type { RoleSource } from './types.js';

/** What the audit knows of a host once roles are settled; equal profiles are one object. */
export interface HostProfile {
  id: number;
  roles: string[];
  source: RoleSource;
  classRoles: string[];
  /** A broadcast or multicast address: it plays only its address class, never a role of hosts. */
  hostless: 'broadcast' | 'multicast' | null;
  /** What reports show: the host's roles, then its address classes. */
  shown: string[];
}

/** The roles that are address classes (broadcast, multicast, external, any) in the catalogs. */
export function classIdsOf(catalogs: Catalog[]): Set<string> {
  return new Set(catalogs.flatMap((c) => c.roles.filter((r) => r.address).map((r) => r.id)));
}

/**
 * Whether a host can be one side of a rule. An address class is a fact of the address: a side that
 * names only classes (`to: broadcast`) fits only hosts of those classes, and a broadcast or multicast
 * address fits only a side that names its class. Roles the user gave decide; roles inferred or
 * unknown never condemn a flow (unless `sure`: a wide range needs the fit to be known).
 */
export function sideFits(ruleRoles: string[], p: HostProfile, classIds: ReadonlySet<string>, sure: boolean): boolean {
  for (const r of ruleRoles) if (p.classRoles.includes(r)) return true;
  if (p.source === 'given') return ruleRoles.some((r) => p.roles.includes(r));
  if (sure || p.hostless !== null) return false;
  return ruleRoles.some((r) => !classIds.has(r));
}

/**
 * The profiles of one audit's hosts, by host id, made when first asked. Hosts with the same roles,
 * source, classes and kind share one profile (and its id), so verdicts can be shared by profile.
 */
export class HostProfiles {
  private readonly profiles: Array<HostProfile | undefined>;
  private readonly byContent = new Map<string, HostProfile>();
  // By class-role array, for hosts (0), broadcast (1) and multicast addresses (2).
  private readonly plainProfiles = [new Map<string[], HostProfile>(), new Map<string[], HostProfile>(), new Map<string[], HostProfile>()] as const;

  constructor(
    private readonly c: FlowColumns,
    private readonly roles: RoleResolver,
  ) {
    this.profiles = new Array(c.hosts.length);
  }

  of(host: number): HostProfile {
    let p = this.profiles[host];
    if (p) return p;
    const addr = this.c.hosts[host]!;
    const r = this.roles.rolesOf(addr);
    const classRoles = this.roles.classRolesOf(addr);
    const kind = this.roles.space.kindOf(addr);
    const hostless = kind === 'broadcast' || kind === 'multicast' ? kind : null;
    // Most hosts have no roles: their profile follows from the (shared) class-role array alone.
    const plain = r.roles.length === 0 && r.source === 'unknown';
    const slot = hostless === null ? 0 : hostless === 'broadcast' ? 1 : 2;
    if (plain && (p = this.plainProfiles[slot].get(classRoles))) {
      this.profiles[host] = p;
      return p;
    }
    const key = `${r.source}|${r.roles.join(',')}|${classRoles.join(',')}|${slot}`;
    p = this.byContent.get(key);
    if (!p) {
      p = {
        id: this.byContent.size,
        roles: r.roles,
        source: r.source,
        classRoles,
        hostless,
        shown: [...r.roles, ...classRoles.filter((x) => !r.roles.includes(x))],
      };
      this.byContent.set(key, p);
    }
    if (plain) this.plainProfiles[slot].set(classRoles, p);
    this.profiles[host] = p;
    return p;
  }
}
