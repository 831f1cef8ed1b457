import type { AuditReport } from '../../audit/index.js';
import { terminalSafe } from '../escape.js';

function formatElapsed(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${s.toFixed(1)} s`;
}

function rolesLine(r: AuditReport): string {
  const given = Object.entries(r.roles.given);
  const inferred = Object.entries(r.roles.inferred);
  const how = r.roles.file
    ? `given by ${r.roles.file} (${given.map(([k, v]) => `${k} ${v.length}`).join(', ')})`
    : r.roles.inference
      ? 'no role map: flows are judged by port'
      : 'no role map and no inference (--no-infer): flows are judged by port and address class';
  const site = r.roles.site.length ? `; site prefixes ${r.roles.site.join(' ')}` : '';
  return `roles: ${how}${inferred.length ? `; inferred from traffic: ${inferred.map(([k, v]) => `${k} ${v.join(' ')}`).join('; ')}` : ''}${site}`;
}

/** What was read and against what: the captures (or the interface), the catalogs, where the roles came from. */
export function* headerSection(r: AuditReport): Generator<string> {
  const live = r.live;
  if (live) {
    const when = live.final ? `final report${live.stoppedBy ? ` (${live.stoppedBy})` : ''}` : `report ${live.report}`;
    yield `flowaudit live — ${terminalSafe(live.interface)}${live.bpf ? ` (bpf: ${terminalSafe(live.bpf)})` : ''}, ${when} at ${live.at}, ${formatElapsed(live.elapsedSeconds)} since ${live.started}`;
  } else yield `flowaudit analyze — ${r.capture.files.map((f) => terminalSafe(f.file)).join(', ')}`;
  yield `catalogs: ${r.catalogs.map((c) => `${c.id} (${c.name}, ${c.rules} rules)`).join('; ')}`;
  yield rolesLine(r);
}
