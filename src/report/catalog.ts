import { format as csvFormat } from 'fast-csv';
import type { Writable } from 'node:stream';
import { alternativePorts, Catalog, displayPorts, Rule } from '../catalog/types.js';
import { csvText } from './escape.js';
import { wrap } from './text.js';

function fmtRanges(r: Array<[number, number]>): Array<number | string> {
  return r.map(([lo, hi]) => (lo === hi ? lo : `${lo}-${hi}`));
}

function fmtPeriod(s: number | null): string {
  if (s === null) return '';
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

function ruleJson(c: Catalog, r: Rule) {
  const alts = alternativePorts(c, r);
  return {
    id: r.id,
    from: r.from,
    to: r.to,
    direction: r.direction,
    transport: r.transport,
    ports: displayPorts(r),
    ...(r.dynamic?.range ? { dynamicRange: `${r.dynamic.range[0]}-${r.dynamic.range[1]}` } : {}),
    ...(r.params.length ? { params: r.params } : {}),
    ...(alts.length ? { alternatives: alts.map((a) => ({ alternative: a.alternative, ports: fmtRanges(a.ports) })) } : {}),
    ...(r.icmp ? { icmp: r.icmp } : {}),
    service: r.service,
    required: r.required,
    ...(r.condition ? { condition: r.condition } : {}),
    configurable: r.configurable,
    period: r.period,
    cite: r.cite,
    ...(r.note ? { note: r.note } : {}),
    line: r.place.line,
  };
}

/** `catalog show --format json`: the documented shape, parameters resolved. */
export function catalogJson(c: Catalog): string {
  return (
    JSON.stringify(
      {
        id: c.id,
        name: c.name,
        ...(c.extends ? { extends: c.extends } : {}),
        file: c.file,
        documents: c.documents,
        roles: c.roles,
        params: Object.fromEntries(
          Object.entries(c.params).map(([k, p]) => [k, { value: fmtRanges(p.value), default: fmtRanges(p.default), ...(p.description ? { description: p.description } : {}) }]),
        ),
        alternatives: c.alternatives.map((a) => ({ ...a, sets: a.sets.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, fmtRanges(v)]))) })),
        rules: c.rules.map((r) => ruleJson(c, r)),
        requirements: c.requirements.map((q) => ({
          id: q.id,
          description: q.description,
          ...(q.when ? { when: q.when } : {}),
          ...(q.forEach ? { forEach: q.forEach } : {}),
          expect: q.expect,
          period: q.period,
          ...(q.cite ? { cite: q.cite } : {}),
          ...(q.note ? { note: q.note } : {}),
        })),
      },
      null,
      2,
    ) + '\n'
  );
}


/** A reading of the catalog beside the vendor document: rules grouped by the document's sections. */
export function catalogText(c: Catalog): string {
  const out: string[] = [];
  out.push(`${c.name} (${c.id}) — ${c.rules.length} rules, ${c.requirements.length} requirements, from ${c.file}`);
  for (const d of c.documents) out.push(`  document ${d.id}: ${d.title}`);
  out.push('');
  out.push('Roles:');
  for (const r of c.roles) {
    out.push(`  ${r.id.padEnd(28)} ${r.name}${r.address ? ` [${r.address}]` : ''}${r.hosts ? ` ${r.hosts.join(', ')}` : ''}${r.actsAs ? `  (acts as ${r.actsAs.join(', ')})` : ''}`);
    if (r.cite) out.push(...wrap(`“${r.cite.text}”`, 100, `  ${' '.repeat(29)}`));
    if (r.note) out.push(...wrap(`note: ${r.note}`, 100, `  ${' '.repeat(29)}`));
  }
  const params = Object.values(c.params);
  if (params.length) {
    out.push('', 'Parameters:');
    for (const p of params) {
      const changed = JSON.stringify(p.value) !== JSON.stringify(p.default) ? ` (default ${fmtRanges(p.default).join(',')})` : '';
      out.push(`  ${p.name.padEnd(28)} ${fmtRanges(p.value).join(',')}${changed}${p.description ? `  ${p.description}` : ''}`);
    }
  }
  for (const a of c.alternatives) {
    out.push(`  alternatives ${a.id}: ${a.sets.map((s) => Object.entries(s).map(([k, v]) => `${k}=${fmtRanges(v).join(',')}`).join(' ')).join('  |  ')}`);
  }
  let section = '';
  let document = '';
  for (const r of c.rules) {
    if (r.cite.section !== section || r.cite.document !== document) {
      section = r.cite.section;
      document = r.cite.document;
      out.push('', `── ${section}${c.documents.length > 1 ? ` (${document})` : ''} ──`);
    }
    const arrow = r.direction === 'either' ? '<->' : '->';
    const ports = r.transport.some((t) => t.startsWith('icmp')) ? (r.icmp ? `type ${r.icmp.type}${r.icmp.code !== undefined ? ` code ${r.icmp.code}` : ''}` : 'any') : displayPorts(r).join(',');
    const extra = [r.required, r.configurable ? 'configurable' : '', r.period !== null ? `every ${fmtPeriod(r.period)}` : ''].filter(Boolean).join(', ');
    out.push(`  ${r.id}: ${r.from.join('|')} ${arrow} ${r.to.join('|')}  ${r.transport.join('/')} ${ports}${r.dynamic?.range ? ` (${r.dynamic.range.join('-')})` : ''}  ${r.service}  [${extra}]`);
    const alts = alternativePorts(c, r);
    if (alts.length) out.push(`      ports by ${alts[0]!.alternative}: ${alts.map((a) => fmtRanges(a.ports).join(',')).join(' or ')}`);
    if (r.condition) out.push(`      condition: ${r.condition}`);
    out.push(...wrap(`“${r.cite.text}”`, 100, '      '));
    if (r.note) out.push(...wrap(`note: ${r.note}`, 100, '      '));
  }
  if (c.requirements.length) {
    out.push('', '── Requirements ──');
    for (const q of c.requirements) {
      const trigger = q.when ? `when ${q.when.rule} is seen` : `for each ${q.forEach}`;
      const expect = q.expect.map((e) => ('rule' in e ? `${e.rule}${e.reverse ? ' (reversed)' : ''}` : `grant ${e.grant}`)).join(' or ');
      out.push(`  ${q.id}: ${trigger} → expect ${expect}${q.period !== null ? `, period ${fmtPeriod(q.period)}` : ''}`);
      out.push(...wrap(q.description, 100, '      '));
    }
  }
  return out.join('\n') + '\n';
}

export function writeCatalogCsv(c: Catalog, out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = csvFormat({ headers: ['catalog', 'id', 'from', 'to', 'direction', 'transport', 'ports', 'service', 'required', 'condition', 'configurable', 'period', 'section', 'cite', 'note'] });
    stream.on('error', reject);
    stream.pipe(out, { end: false });
    stream.on('end', () => resolve());
    for (const r of c.rules) {
      stream.write({
        catalog: c.id,
        id: r.id,
        from: r.from.join(' '),
        to: r.to.join(' '),
        direction: r.direction,
        transport: r.transport.join(' '),
        ports: r.icmp ? `type ${r.icmp.type}` : displayPorts(r).join(' '),
        service: r.service,
        required: r.required,
        condition: r.condition ?? '',
        configurable: r.configurable,
        period: r.period ?? '',
        section: r.cite.section,
        cite: r.cite.text,
        note: r.note ?? '',
      });
    }
    stream.end();
  });
}

export function catalogListText(rows: Array<{ id: string; name: string; rules: number; requirements: number; documents: number }>): string {
  const w = Math.max(...rows.map((r) => r.id.length), 2);
  const lines = [`${'ID'.padEnd(w)}  RULES  REQUIREMENTS  PRODUCT`];
  for (const r of rows) lines.push(`${r.id.padEnd(w)}  ${String(r.rules).padStart(5)}  ${String(r.requirements).padStart(12)}  ${r.name}`);
  return lines.join('\n') + '\n';
}

/** A row of `catalog list`. */
export interface CatalogListRow {
  id: string;
  name: string;
  rules: number;
  requirements: number;
  documents: number;
}

/** `catalog list --format csv`: one line per bundled catalog. */
export function writeCatalogListCsv(rows: CatalogListRow[], out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = csvFormat({ headers: ['id', 'name', 'rules', 'requirements', 'documents'] });
    stream.on('error', reject);
    stream.pipe(out, { end: false });
    stream.on('end', () => resolve());
    for (const r of rows) stream.write({ id: r.id, name: csvText(r.name), rules: r.rules, requirements: r.requirements, documents: r.documents });
    stream.end();
  });
}
