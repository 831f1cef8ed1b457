import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alternativePorts, bundledCatalogIds, Catalog, displayPorts, loadCatalog, Rule } from '../src/catalog/index.js';

/**
 * Every bundled catalog against the vendor documents in ../shared/seeds (see its README): the rules
 * load, the roles users type exist, and every citation is the vendor's own words.
 */
const seeds = resolve(__dirname, '..', '..', 'shared', 'seeds');
const SOURCES: Record<string, Record<string, string>> = {
  cam: { 'ipa36-2': '004_b499f6666ec6e135.txt' },
  'bmc-cm': { ports: '000_10b8f42f5ad0971e.txt' },
  itms8: { 'article-184952': '001_06cf43f5e72b391f.txt' },
  sccm2007: { 'port-list': '002_031579148e7645ef.txt', 'network-communications': '003_89b7e3ac6d9abfc6.txt' },
};
const USER_ROLES: Record<string, string[]> = {
  'bmc-cm': ['master-server', 'relay', 'client', 'console', 'database-server'],
  itms8: ['notification-server', 'agent', 'package-server', 'task-server', 'sql-server'],
  sccm2007: ['site-server', 'management-point', 'distribution-point', 'software-update-point', 'pxe-service-point', 'sql-server', 'domain-controller', 'console', 'client'],
  cam: ['manager', 'device', 'client', 'administrator', 'ldap-server'],
};

/** Whitespace folded, markup of the flattened pages removed: what "the same words" means here. */
function words(text: string): string {
  return text.replace(/<\/?b>/g, '').replace(/\*\*/g, '').replace(/\s+/g, ' ').trim();
}

function seedsAvailable(): boolean {
  try {
    readFileSync(join(seeds, 'README.md'));
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error(`${seeds} is missing; CI=true requires the vendor documents`);
    console.warn(`[flowaudit tests] catalog citations skipped: ${seeds} not found`);
    return false;
  }
}

/**
 * The port numbers a citation writes. Every number in it is read as a port except where the prose
 * says it is something else: a dotted number (an address such as 224.0.255.135, a version), a
 * footnote marker of a flattened table ("[5]"), a note number ("See note 4"), an ICMP message type
 * ("Type 8"), a duration or share ("every 5 minutes", "7 days", "50 %"), a version suffix ("IPv6",
 * "ICMPV4") and a digit inside a word ("P2P"). "low-high" is a range. Flattened tables glue their
 * columns together: a run too long to be a port that is one number written twice is the UDP and TCP
 * columns of the same port ("RPC Endpoint Mapper135135").
 */
const NOT_PORTS = [
  /\d+(?:\.\d+)+/g,
  /\[\d+\]/g,
  /\bnotes? \d+(?:\s*(?:,|and)\s*\d+)*/gi,
  /\btype \d+/gi,
  /\b\d+(?:\s*-\s*\d+)?\s*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|%)/gi,
  /(?<=[A-Za-z])[vV]\d\b/g,
  /(?<=[A-Za-z])\d(?=[A-Za-z])/g,
];
function citedPorts(text: string): Array<{ written: string; range: [number, number] }> {
  let t = text;
  for (const re of NOT_PORTS) t = t.replace(re, (m) => ' '.repeat(m.length));
  const out: Array<{ written: string; range: [number, number] }> = [];
  for (const m of t.matchAll(/(\d+)(?:\s*-\s*(\d+))?/g)) {
    const [written, a, b] = [m[0], m[1]!, m[2]];
    if (b !== undefined) out.push({ written, range: [Number(a), Number(b)] });
    else if (Number(a) > 65535 && a.length % 2 === 0 && a.slice(0, a.length / 2) === a.slice(a.length / 2)) out.push({ written, range: [Number(a.slice(0, a.length / 2)), Number(a.slice(0, a.length / 2))] });
    else out.push({ written, range: [Number(a), Number(a)] });
  }
  return out;
}

/** Every port a rule can stand for: its ports, its parameters' defaults, each set of its alternatives, its dynamic range. */
function portsOf(c: Catalog, r: Rule): Array<[number, number]> {
  return [...r.ranges, ...r.params.flatMap((p) => c.params[p]!.default), ...alternativePorts(c, r).flatMap((a) => a.ports), ...(r.dynamic?.range ? [r.dynamic.range] : [])];
}

/** Cited ports the rule does not have and its note does not name (the note says why the citation writes them). */
function unexplainedCitedPorts(c: Catalog, r: Rule): string[] {
  const ports = portsOf(c, r);
  return citedPorts(r.cite.text)
    .filter(({ range: [lo, hi] }) => !ports.some(([a, b]) => lo >= a && hi <= b))
    .filter(({ written }) => !r.note || !new RegExp(`(?<!\\d)${written.replace(/\s*-\s*/, '\\s*-\\s*')}(?!\\d)`).test(r.note))
    .map(({ written }) => written);
}

describe('bundled catalogs', () => {
  const ids = bundledCatalogIds();

  it('are there, and each loads', () => {
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(loadCatalog(id).rules.length, id).toBeGreaterThan(0);
  });

  for (const id of ids) {
    describe(id, () => {
      const c = loadCatalog(id);
      it('has the roles users type in their role maps', () => {
        for (const r of USER_ROLES[id] ?? []) expect(c.roles.map((x) => x.id), r).toContain(r);
      });
      it('states every rule completely', () => {
        for (const r of c.rules) {
          expect(r.cite.text.length, r.id).toBeGreaterThan(0);
          if (r.transport.some((t) => t === 'tcp' || t === 'udp')) expect(displayPorts(r).length, r.id).toBeGreaterThan(0);
          if (r.required === 'conditional') expect(r.condition, r.id).toBeTruthy();
        }
      });
      it('has every port its citation writes, or a note that names it and says why not', () => {
        const slips = c.rules.flatMap((r) => unexplainedCitedPorts(c, r).map((p) => `${r.place.file}:${r.place.line}: rule ${r.id} cites port ${p} but has ${displayPorts(r).join(',') || 'no port'}`));
        expect(slips).toEqual([]);
      });
      it.skipIf(!seedsAvailable())('cites the vendor document word for word', () => {
        const sources = SOURCES[id];
        expect(sources, `the document files of ${id}`).toBeDefined();
        const texts = Object.fromEntries(Object.entries(sources!).map(([doc, file]) => [doc, words(readFileSync(join(seeds, file), 'utf8'))]));
        const quotes = [
          ...c.rules.map((r) => ({ what: `rule ${r.id}`, cite: r.cite })),
          ...c.requirements.flatMap((q) => (q.cite ? [{ what: `requirement ${q.id}`, cite: q.cite }] : [])),
          ...Object.values(c.params).flatMap((p) => (p.cite ? [{ what: `parameter ${p.name}`, cite: p.cite }] : [])),
          ...c.roles.flatMap((r) => (r.cite ? [{ what: `role ${r.id}`, cite: r.cite }] : [])),
        ];
        for (const { what, cite } of quotes) {
          const text = texts[cite.document];
          expect(text, `${what}: document ${cite.document}`).toBeDefined();
          expect(text!.includes(words(cite.text)), `${what}: "${cite.text}" is not in ${sources![cite.document]}`).toBe(true);
          expect(text!.includes(words(cite.section)), `${what}: section "${cite.section}" is not in the document`).toBe(true);
        }
      });
    });
  }
});

describe('ports written in a citation', () => {
  const rule = (id: string, patch: Partial<Rule>) => ({ ...loadCatalog('sccm2007').rules.find((r) => r.id === id)!, ...patch });
  const c = loadCatalog('sccm2007');
  it('are read from prose, flattened table rows and port columns, not from notes, types, times or addresses', () => {
    const read = (t: string) => citedPorts(t).map((p) => p.written);
    expect(read('Management point->Domain controllerKerberos88')).toEqual(['88']);
    expect(read('Site server<->[2]PXE service pointRPC Endpoint Mapper135135')).toEqual(['135135']);
    expect(citedPorts('RPC Endpoint Mapper135135')[0]!.range).toEqual([135, 135]);
    expect(read('Hypertext Transfer Protocol (HTTP) -- 80 or 8530 (See note 4, Windows Server Update Services)')).toEqual(['80', '8530']);
    expect(read('TCP 900-902 (configurable) Unidirectional from Client to device')).toEqual(['900-902']);
    expect(read('ICMPV4 Type 8 (echo) or ICMPV6 Type 128 (echo request)n/an/a')).toEqual([]);
    expect(read('State information is sent every 5 minutes by default. Inventory … every 7 days by default.')).toEqual([]);
    expect(read('Multicast (default group is 224.0.255.135)')).toEqual([]);
    expect(read('Peer-to-peer (P2P) local HTTP server.')).toEqual([]);
  });
  it('catch a port typed wrong: the Kerberos rows transcribed as 8', () => {
    expect(unexplainedCitedPorts(c, rule('t1-mp-dc-kerberos', { ranges: [[8, 8]] }))).toEqual(['88']);
    expect(unexplainedCitedPorts(c, rule('t1-mp-dc-kerberos', {}))).toEqual([]);
  });
  it('accept a port of a parameter, an alternative or a dynamic range, and one the note names', () => {
    expect(unexplainedCitedPorts(c, rule('link-6-http', {}))).toEqual([]);
    expect(unexplainedCitedPorts(c, rule('t1-mp-sql-sql-udp', {}))).toEqual([]);
    expect(unexplainedCitedPorts(c, rule('t1-mp-sql-sql-udp', { note: 'UDP only.' }))).toEqual(['1433']);
  });
});

describe('cam: note IPA36-2', () => {
  const c = loadCatalog('cam');
  const rule = (id: string) => c.rules.find((r) => r.id === id)!;
  it('has a rule for each of the nine table rows and the three protocols of the comments', () => {
    expect(c.rules).toHaveLength(12);
    expect(c.rules.filter((r) => r.cite.section === 'MORE INFORMATION')).toHaveLength(9);
  });
  it('keeps the bidirectional rows two-way and the configurable remote-session range a parameter', () => {
    expect(rule('device-discovery')).toMatchObject({ direction: 'either', transport: ['udp'], ranges: [[3080, 3080]] });
    expect(rule('device-communication')).toMatchObject({ direction: 'either', from: ['manager'], to: ['device'] });
    expect(rule('replication')).toMatchObject({ direction: 'either', required: 'conditional', condition: 'when the system is operated in Replication mode' });
    expect(displayPorts(rule('remote-session'))).toEqual(['900-902']);
    expect(rule('remote-session')).toMatchObject({ configurable: true, params: ['remote-session-ports'] });
    expect(displayPorts(loadCatalog('cam', { set: { 'remote-session-ports': '5900-5902' } }).rules.find((r) => r.id === 'remote-session')!)).toEqual(['5900-5902']);
  });
  it('keeps what the document says even where it is unusual, and says so', () => {
    expect(rule('dns')).toMatchObject({ transport: ['tcp'], ranges: [[53, 53]] });
    expect(rule('dns').note).toMatch(/UDP 53/);
    expect(rule('device-discovery-fallback')).toMatchObject({ required: 'conditional', condition: "if port 3080 doesn't work" });
    expect(c.requirements[0]).toMatchObject({ id: 'discovery-answered-on-3080', when: { rule: 'device-discovery-fallback' }, expect: [{ rule: 'device-discovery', reverse: true }] });
  });
});

describe('bmc-cm: BMC Client Management Ports', () => {
  const c = loadCatalog('bmc-cm');
  const rule = (id: string) => c.rules.find((r) => r.id === id)!;
  const section = (name: string) => c.rules.filter((r) => r.cite.section === name).map((r) => r.id);
  it('has a rule for every row, section by section', () => {
    expect(c.rules).toHaveLength(55);
    expect(section('Port overview')).toHaveLength(14);
    expect(section('Asset discovery')).toHaveLength(4);
    expect(section('Mobile Device Management')).toHaveLength(5);
    expect(section('AutoDiscovery')).toHaveLength(5);
    expect(section('OSD')).toHaveLength(12);
  });
  it('models the agent, its parent and the tunnel as the mission example needs', () => {
    expect(rule('agent-to-parent')).toMatchObject({ from: ['client'], to: ['master-server', 'relay'], ranges: [[1610, 1610]], params: ['agent-port'], required: 'required' });
    expect(rule('agent-tunnel')).toMatchObject({ ranges: [[1611, 1611]], required: 'conditional', condition: 'the client cannot be contacted by its parent' });
    expect(c.requirements.find((q) => q.id === 'parent-return-path')).toMatchObject({ when: { rule: 'agent-to-parent' }, expect: [{ rule: 'parent-to-agent', reverse: true }, { rule: 'agent-tunnel', reverse: false }] });
  });
  it('keeps both readings of "1611 (1610)" and of the bandwidth port', () => {
    expect(displayPorts(rule('console'))).toEqual([1610, 1611]);
    expect(rule('bandwidth-throttling')).toMatchObject({ from: ['relay'], to: ['client'], ranges: [[1609, 1609]] });
    expect(rule('bandwidth-calculation')).toMatchObject({ from: ['client'], to: ['master-server', 'relay'], period: 60, required: 'conditional' });
  });
  it('has the relay act as a client: an agent, the client of its own parent', () => {
    expect(c.roles.filter((r) => r.actsAs).map((r) => [r.id, r.actsAs])).toEqual([['relay', ['client']]]);
  });
  it('has the DMZ relay redirect to 443 as a rule and as a parameter override', () => {
    expect(rule('agent-port-redirect')).toMatchObject({ ranges: [[443, 443]], required: 'conditional' });
    const dmz = loadCatalog('bmc-cm', { set: { 'agent-port': '443' } });
    expect(displayPorts(dmz.rules.find((r) => r.id === 'agent-to-parent')!)).toEqual([443]);
  });
  it('has the sections that are easy to skip: asset discovery ranges, MDM cloud endpoints, OSD with TFTP', () => {
    expect(displayPorts(rule('asset-discovery-tcp'))).toEqual([15, 22, 23, 35, 80, 135, 137, 139, 443, 445, 515, '9100-9102']);
    expect(displayPorts(rule('asset-discovery-wmi-restricted'))).toEqual(['1024-1030']);
    expect(displayPorts(rule('asset-discovery-wmi-unrestricted'))).toEqual(['49152-65535']);
    expect(rule('mdm-apple-push').to).toEqual(['apple-push']);
    expect(c.roles.find((r) => r.id === 'apple-push')).toMatchObject({ address: 'external', hosts: ['api.push.apple.com'] });
    expect(rule('mdm-apple-certificate')).toMatchObject({ ranges: [[10610, 10610]], period: 365 * 86400 });
    expect(rule('osd-tftp')).toMatchObject({ direction: 'either', transport: ['udp'], ranges: [[69, 69]] });
    expect(rule('osd-tftp-transfer').dynamic).toEqual({ kind: 'tftp-transfer' });
    expect(rule('autodiscovery-ping')).toMatchObject({ transport: ['icmp'], icmp: { type: 8 } });
  });
});

describe('itms8: Ports and Protocols for ITMS 8.x (article 184952)', () => {
  const c = loadCatalog('itms8');
  const rule = (id: string) => c.rules.find((r) => r.id === id)!;
  const section = (name: string) => c.rules.filter((r) => r.cite.section === name).length;
  it('covers every table, including the ones that are easy to skip', () => {
    expect(c.rules).toHaveLength(93);
    expect(section('Notification Server and Symantec Management Console')).toBe(22);
    expect(section('Pluggable Protocol Architecture')).toBe(14);
    expect(section('Event Console')).toBe(4);
    expect(section('Deployment Solution')).toBe(5);
    expect(section('Internet Gateway')).toBe(3);
    expect(section('Symantec Workflow')).toBe(4);
  });
  it('has the tickle ports as parameters, in the documented direction', () => {
    expect(rule('task-server-tickle')).toMatchObject({ from: ['notification-server'], to: ['task-server'], ranges: [[50123, 50123]], configurable: true });
    expect(rule('client-task-tickle')).toMatchObject({ from: ['task-server'], to: ['agent'], ranges: [[50124, 50124]] });
    expect(rule('windows-agent-tickle')).toMatchObject({ transport: ['tcp', 'udp'], ranges: [[52028, 52028]] });
    const site = loadCatalog('itms8', { set: { 'agent-tickle-port': '52100' } });
    expect(displayPorts(site.rules.find((r) => r.id === 'windows-agent-tickle')!)).toEqual([52100]);
  });
  it('states dynamic ports by the negotiation that grants them', () => {
    expect(rule('ns-sql-named-instance').dynamic).toEqual({ kind: 'sql-named-instance' });
    expect(rule('discovery-rpc-dynamic').dynamic).toEqual({ kind: 'dcerpc', range: [49152, 65535] });
    expect(rule('tftp-transfer').dynamic).toEqual({ kind: 'tftp-transfer', range: [1024, 65535] });
    expect(rule('ppa-wmi-dynamic-legacy').dynamic).toEqual({ kind: 'dcerpc', range: [1025, 5000] });
    expect(c.requirements.find((q) => q.id === 'sql-browser-answer-used')!.expect).toEqual([{ grant: 'sql-named-instance' }, { rule: 'ns-sql', reverse: false }]);
  });
  it('has the Package Server act as an agent, and not the Notification Server (the document does not say it runs one)', () => {
    expect(c.roles.filter((r) => r.actsAs).map((r) => [r.id, r.actsAs])).toEqual([['package-server', ['agent']]]);
    expect(c.roles.find((r) => r.id === 'notification-server')!.note).toMatch(/AeXNSClient/);
  });
  it('every agent must reach its notification server', () => {
    expect(c.requirements.find((q) => q.id === 'agent-reaches-notification-server')).toMatchObject({ forEach: 'agent', expect: [{ rule: 'agent-policy-update', reverse: false }, { rule: 'gateway-from-cem-agents', reverse: false }] });
    expect(displayPorts(rule('agent-policy-update'))).toEqual([80, 443]);
  });
  it('keeps the document where it is odd, and says so', () => {
    expect(rule('ns-data-connector').note).toMatch(/1024-65536/);
    expect(rule('wake-on-lan')).toMatchObject({ transport: ['tcp'], ranges: [[50200, 50200]] });
  });
});

describe('sccm2007: both Configuration Manager 2007 write-ups', () => {
  const c = loadCatalog('sccm2007');
  const rule = (id: string) => c.rules.find((r) => r.id === id)!;
  it('transcribes both documents in full', () => {
    expect(c.rules).toHaveLength(262);
    const links = new Set(c.rules.filter((r) => r.cite.document === 'port-list' && /^\d+\. /.test(r.cite.section)).map((r) => r.cite.section.split('.')[0]));
    expect([...links].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 47 }, (_, i) => i + 1));
    expect(c.rules.filter((r) => r.cite.section === 'Table 1. Communication Paths and Ports').length).toBeGreaterThan(100);
    expect(c.rules.filter((r) => r.cite.section.startsWith('Table 2.'))).toHaveLength(4);
    for (const s of ['Configuration Manager Remote Control Ports', 'Ports Used by Windows Servers', 'Installation Requirements for Internet-Based Site Systems']) {
      expect(c.rules.some((r) => r.cite.section === s), s).toBe(true);
    }
    expect(c.rules.filter((r) => r.id.startsWith('oob-')).length).toBe(8);
  });
  it('has the site system roles the documents name as such act as site-system', () => {
    const acting = c.roles.filter((r) => r.actsAs).map((r) => r.id);
    expect(acting).toEqual(['management-point', 'distribution-point', 'software-update-point', 'state-migration-point', 'pxe-service-point', 'system-health-validator', 'fallback-status-point', 'server-locator-point', 'reporting-point', 'reporting-services-point']);
    for (const id of acting) expect(c.roles.find((r) => r.id === id)!.actsAs, id).toEqual(['site-system']);
  });
  it('pairs the WSUS ports: 80 with 443, 8530 with 8531', () => {
    expect(c.alternatives[0]!.sets).toEqual([{ 'wsus-http-port': [[80, 80]], 'wsus-https-port': [[443, 443]] }, { 'wsus-http-port': [[8530, 8530]], 'wsus-https-port': [[8531, 8531]] }]);
    expect(rule('link-6-http')).toMatchObject({ params: ['wsus-http-port'], configurable: true });
  });
  it('has the documented periods as requirements: policy hourly, state messages every 5 minutes', () => {
    expect(c.requirements.find((q) => q.id === 'client-policy-poll')).toMatchObject({ forEach: 'client', period: 3600 });
    expect(c.requirements.find((q) => q.id === 'client-state-messages')).toMatchObject({ forEach: 'client', period: 300 });
    expect(rule('client-state-messages').period).toBe(300);
  });
  it('keeps both readings where the write-ups disagree, and says so', () => {
    expect(displayPorts(rule('link-22-sql'))).toEqual([1433]);
    expect(rule('link-22-sql').note).toMatch(/both readings are kept/);
    expect(displayPorts(rule('t1-mp-sql-sql-udp'))).toEqual([1434]);
    expect(rule('t1-mp-sql-sql-named-instance').dynamic).toEqual({ kind: 'sql-named-instance' });
  });
  it('states RPC, TFTP and alternate client ports the way the audit needs them', () => {
    expect(rule('link-2-rpc-dynamic').dynamic).toEqual({ kind: 'dcerpc' });
    expect(rule('link-2-rpc-epm')).toMatchObject({ transport: ['tcp', 'udp'], ranges: [[135, 135]] });
    expect(rule('link-8-tftp-transfer').dynamic).toEqual({ kind: 'tftp-transfer' });
    expect(rule('link-17-http')).toMatchObject({ params: ['site-http-port'], configurable: true });
    expect(displayPorts(loadCatalog('sccm2007', { set: { 'site-http-port': '8080' } }).rules.find((r) => r.id === 'link-17-http')!)).toEqual([8080]);
    expect(rule('link-15-multicast')).toMatchObject({ transport: ['udp'], ranges: [[63000, 64000]] });
  });
  it('has Kerberos on 88 and the second NetBIOS row on TCP 139, as the documents write them', () => {
    for (const id of ['t1-ss-dc-kerberos', 't1-mp-dc-kerberos']) expect(rule(id), id).toMatchObject({ transport: ['tcp', 'udp'], ranges: [[88, 88]] });
    expect(rule('windows-server-netbios-tcp')).toMatchObject({ transport: ['tcp'], ranges: [[139, 139]], cite: { text: 'NetBIOS datagrams -- 139' } });
  });
});
