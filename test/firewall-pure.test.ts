/**
 * The allow-list is a pure function of the audit report and the catalogs: the same report gives the
 * same list however often it is asked, and asking changes nothing in the report.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRoleMap } from '../src/audit/index.js';
import { auditJson } from '../src/report/audit.js';
import { loadBackground, loadCatalog } from '../src/catalog/index.js';
import { analyzeCaptures } from '../src/cli/capture-input.js';
import { allowList } from '../src/firewall/allow-list.js';
import { loadZones } from '../src/firewall/zones.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const root = resolve(__dirname, '..');
const sample = (f: string) => join(root, 'samples', f);

describe('allowList', () => {
  it('gives the same list twice and leaves the audit report as it was', async () => {
    const catalogs = [loadCatalog('sccm2007')];
    const background = loadBackground();
    const report = await analyzeCaptures([sample('sccm2007-site.pcapng')], { catalogs, background, roleMap: loadRoleMap(sample('sccm2007-roles.yaml'), catalogs), waivers: [], version: 'test' }, { workers: 1 });
    const before = auditJson(report, 0);
    const a = allowList(report, { catalogs, background, zones: null });
    const b = allowList(report, { catalogs, background, zones: null });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(auditJson(report, 0)).toBe(before);
    expect(a.rules.map((r) => r.rule)).toContain('sccm2007:link-2-rpc-dynamic');
    // Zones change the grouping only: the same flows, the same ports per catalog rule.
    const dir = mkdtempSync(join(tmpdir(), 'fa-fwpure-'));
    writeFileSync(join(dir, 'zones.yaml'), 'zones:\n  servers: [10.1.0.0/24]\n  clients: [client]\n');
    const zoned = allowList(report, { catalogs, background, zones: loadZones(join(dir, 'zones.yaml'), catalogs) });
    const flowsPerRule = (l: typeof a) => Object.fromEntries([...new Set(l.rules.map((r) => r.rule))].map((id) => [id, l.rules.filter((r) => r.rule === id).reduce((n, r) => n + r.flows, 0)]));
    expect(flowsPerRule(zoned)).toEqual(flowsPerRule(a));
    expect(new Set(zoned.rules.map((r) => `${r.source}>${r.destination}`))).toEqual(new Set(['clients>servers', 'servers>servers']));
  });
});
