import type { AuditReport } from '../../audit/index.js';
import { humanDuration, plural } from '../../core/human.js';
import { terminalSafe } from '../escape.js';
import { backgroundHeader } from './background.js';
import { firstFew, hanging } from './layout.js';
import type { TextView } from './view.js';

/** Hosts named per role on the roles line before "+N". */
const HOSTS_PER_ROLE = 3;
/** Inferred roles named on the roles line before "+N roles" (the JSON has them all). */
const ROLES_NAMED = 8;
/** Capture files named on the first line before "+N". */
const FILES_NAMED = 3;

/** Where the roles came from, each role folded to its count and first hosts. */
function rolesText(r: AuditReport): string {
  const given = Object.entries(r.roles.given);
  const inferred = Object.entries(r.roles.inferred);
  const how = r.roles.file
    ? `given by ${r.roles.file} (${given.map(([k, v]) => `${k} ${v.length}`).join(', ')})`
    : r.roles.inference
      ? 'no role map: flows are judged by port'
      : 'no role map and no inference (--no-infer): flows are judged by port and address class';
  const site = r.roles.site.length ? `; site prefixes ${r.roles.site.join(' ')}` : '';
  const byRole = inferred.map(([k, v]) => `${k} ${v.length > HOSTS_PER_ROLE ? `${v.length}: ` : ''}${firstFew(v, HOSTS_PER_ROLE)}`);
  const learnt = `${byRole.slice(0, ROLES_NAMED).join('; ')}${byRole.length > ROLES_NAMED ? `; +${plural(byRole.length - ROLES_NAMED, 'role')}` : ''}`;
  return `roles: ${how}${inferred.length ? `; inferred from traffic: ${learnt}` : ''}${site}`;
}

/** What was read and against what: the captures (or the interface, or the listener), the catalogs and their --set, where the roles came from. */
export function* headerSection(r: AuditReport, view: TextView): Generator<string> {
  const live = r.live;
  const collect = r.collect;
  const when = (x: { final: boolean; stoppedBy: string | null; report: number }) => (x.final ? `final report${x.stoppedBy ? ` (${x.stoppedBy})` : ''}` : `report ${x.report}`);
  if (live) {
    yield* hanging(`flowaudit live — ${terminalSafe(live.interface)}${live.bpf ? ` (bpf: ${terminalSafe(live.bpf)})` : ''}, ${when(live)} at ${live.at}, ${humanDuration(live.elapsedSeconds)} since ${live.started}`, view.width, '');
  } else if (collect) {
    yield* hanging(`flowaudit collect — ${terminalSafe(collect.listen)}, ${when(collect)} at ${collect.at}, ${humanDuration(collect.elapsedSeconds)} since ${collect.started}`, view.width, '');
  } else {
    const files = r.capture.files.map((f) => terminalSafe(f.file));
    const named = files.length > FILES_NAMED ? `${files.slice(0, FILES_NAMED).join(', ')} +${files.length - FILES_NAMED} (${plural(files.length, 'file')})` : files.join(', ');
    yield* hanging(`flowaudit analyze — ${named}`, view.width, '');
  }
  yield* hanging(`catalogs: ${r.catalogs.map((c) => `${c.id} (${c.name}, ${plural(c.rules, 'rule')})`).join('; ')}; ${backgroundHeader(r)}`, view.width, '');
  if (r.overrides) yield* hanging(`--set: ${Object.entries(r.overrides).map(([k, v]) => `${k}=${terminalSafe(v)}`).join(' ')}`, view.width, '');
  yield* hanging(rolesText(r), view.width, '');
}
