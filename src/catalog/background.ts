/**
 * The background catalog: the infrastructure every site runs (DNS, LLMNR, DHCP, Kerberos, ICMP…),
 * judged beside the product catalogs. It describes what any host does, so its roles are address
 * classes only (no role map or inference applies to it) and it states no requirements: background
 * traffic explains flows, it is never owed.
 */
import { InputError } from '../core/errors.js';
import { BACKGROUND_ID, loadCatalog } from './load.js';
import type { Catalog } from './types.js';

export { BACKGROUND_ID };

/** `--background ID|FILE` (default the bundled one), checked to be a background catalog. */
export function loadBackground(ref: string = BACKGROUND_ID): Catalog {
  const c = loadCatalog(ref);
  const hostRoles = c.roles.filter((r) => !r.address).map((r) => r.id);
  if (hostRoles.length) {
    const named = hostRoles.slice(0, 5).map((r) => `"${r}"`).join(', ') + (hostRoles.length > 5 ? ` (+${hostRoles.length - 5})` : '');
    throw new InputError(`${c.file}: a background catalog's roles are address classes (address: any, multicast, broadcast or external); without one: ${named}`);
  }
  if (c.requirements.length) throw new InputError(`${c.file}: a background catalog states no requirements (it has ${c.requirements.map((r) => `"${r.id}"`).join(', ')})`);
  return c;
}
