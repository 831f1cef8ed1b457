/**
 * Background services on real Windows domains (../shared/captures/windows): the site's infrastructure
 * (DNS, Kerberos, LDAP, LLMNR, mDNS, SSDP, NetBIOS, NTP, SMB, the endpoint mapper and the ports it
 * grants, ICMPv6 router adverts) is `background`, never undocumented; what is left undocumented is
 * traffic no background port explains; product rules still win. Expectations come from tshark (the
 * services each capture holds) and the corpus's truth files (the ports endpoint-mapper and DCOM
 * answers granted), checked against the IANA port facts below, not against the catalog.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditReport, JudgedFlow } from '../src/audit/index.js';
import { loadBackground, loadCatalog } from '../src/catalog/index.js';
import { analyzeCaptures } from '../src/cli/analyze.js';
import { auditText } from '../src/report/audit.js';
import { skipWithoutCaptures, skipWithoutTshark, tsharkFields } from './helpers/captures.js';
import { checkAuditReport } from './helpers/report-schema.js';
import { windowsDir, windowsTruth, type DcomTruth, type EpmTruth } from './helpers/windows-truth.js';

const skip = skipWithoutCaptures('background services') || skipWithoutTshark('background services');
const windows = windowsDir();
/** The documents the background catalog cites: every background verdict names one of them. */
const backgroundDocuments = loadBackground().documents.map((d) => d.id);

/**
 * The IANA assignments (service-names-port-numbers registry) and ICMP type registries of the services
 * every Windows site runs: what a reviewer would call background on sight.
 */
const FACTS: Record<string, Set<number>> = {
  udp: new Set([53, 67, 68, 88, 123, 135, 137, 138, 389, 427, 464, 546, 547, 1900, 3702, 5353, 5355]),
  tcp: new Set([53, 88, 135, 139, 389, 427, 445, 464, 636, 3268, 3269, 3702, 5355]),
  icmp: new Set([0, 3, 8, 11, 12]),
  icmpv6: new Set([1, 2, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 143]),
};

const CAPTURES = [
  'security-datasets/metasploit_logonpasswords_lsass_memory_dump.pcapng',
  'security-datasets/schtask_create_2020-12-1907003032.pcapng',
  'security-datasets/empire_find_localadmin_smb_svcctl_OpenSCManager_2020-09-22021559.cap',
  'security-datasets/covenant_sharpwmi_create_dcerpc_wmi_2020-08-06035621.cap',
  'corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap',
  'arkime/wireshark-smb-on-windows10.pcap',
];

/** A flow's services: its ports or ICMP type, by transport. */
function isFact(f: Pick<JudgedFlow, 'proto' | 'clientPort' | 'serverPort' | 'icmpType'>): boolean {
  const facts = FACTS[f.proto];
  if (!facts) return false;
  if (f.proto === 'icmp' || f.proto === 'icmpv6') return f.icmpType !== undefined && facts.has(f.icmpType);
  return (f.serverPort !== null && facts.has(f.serverPort)) || (f.clientPort !== null && facts.has(f.clientPort));
}

const key = (f: JudgedFlow) => `${f.proto} ${[`${f.client}:${f.clientPort}`, `${f.server}:${f.serverPort}`].sort().join(' ')} ${f.start}`;

/** The fact services tshark sees in a capture: `udp/53`, `icmpv6 type 134` (lower port of each datagram or segment). */
async function tsharkServices(file: string): Promise<Set<string>> {
  const { rows } = await tsharkFields(file, ['udp.srcport', 'udp.dstport', 'tcp.srcport', 'tcp.dstport', 'icmp.type', 'icmpv6.type', 'ip.proto', 'ipv6.nxt']);
  const out = new Set<string>();
  for (const [us, ud, ts, td, it, i6] of rows) {
    // Only the outer header: the inner header an ICMP error quotes adds its own fields after a comma.
    const first = (v: string | undefined) => (v ? Number(v.split(',')[0]) : NaN);
    // An echo reply belongs to its request's flow, which the request's type names.
    if (i6) {
      if (FACTS.icmpv6!.has(first(i6))) out.add(`icmpv6 type ${first(i6) === 129 ? 128 : first(i6)}`);
    } else if (it) {
      if (FACTS.icmp!.has(first(it))) out.add(`icmp type ${first(it) === 0 ? 8 : first(it)}`);
    } else if (us) {
      const p = Math.min(first(us), first(ud));
      if (FACTS.udp!.has(p)) out.add(`udp/${p}`);
    } else if (ts) {
      const p = Math.min(first(ts), first(td));
      if (FACTS.tcp!.has(p)) out.add(`tcp/${p}`);
    }
  }
  return out;
}

const service = (f: JudgedFlow) => (f.serverPort === null ? `${f.proto} type ${f.icmpType}` : `${f.proto}/${f.serverPort}`);

async function judge(file: string, catalog: string, background: boolean): Promise<AuditReport> {
  return checkAuditReport(
    await analyzeCaptures([join(windows, file)], { catalogs: [loadCatalog(catalog)], background: background ? loadBackground() : null, roleMap: null, waivers: [], version: 'test', today: '2026-12-03' }, { workers: 1 }),
  );
}

describe.skipIf(skip)('background services on real Windows domains', () => {
  const epm = skip ? [] : windowsTruth<EpmTruth[]>('epm-truth.json');
  const dcom = skip ? [] : windowsTruth<DcomTruth[]>('dcom-truth.json');
  for (const catalog of ['bmc-cm', 'sccm2007']) {
    describe(`--catalog ${catalog}`, () => {
      for (const file of CAPTURES) {
        it(file, async () => {
          const [r, off, seen] = await Promise.all([judge(file, catalog, true), judge(file, catalog, false), tsharkServices(join(windows, file))]);
          expect(r.background).toMatchObject({ id: 'background' });
          expect(off.background).toBeNull();
          // Ports the capture's endpoint-mapper and DCOM answers granted and the requester then used.
          const granted = new Set([...epm.filter((e) => e.file === file && e.followup !== 'none').map((e) => e.port), ...dcom.filter((e) => e.file === file).map((e) => e.port)]);
          const flows = [...r.flows];
          const before = new Map([...off.flows].map((f) => [key(f), f]));

          // Product rules win: exactly the flows expected without the background are expected with it.
          expect(flows.filter((f) => f.verdict === 'expected').map(key).sort()).toEqual([...off.flows].filter((f) => f.verdict === 'expected').map(key).sort());
          expect(r.summary.expected).toBe(off.summary.expected);
          expect(r.summary.background).toBe(flows.filter((f) => f.verdict === 'background').length);
          expect(r.summary.flows).toBe(r.summary.expected + r.summary.background + r.summary.undocumented + r.summary.roleMismatch);

          for (const f of flows) {
            const was = before.get(key(f))!.verdict;
            if (isFact(f) || (f.proto === 'tcp' && f.serverPort !== null && granted.has(f.serverPort) && f.grant)) {
              // Background on sight: never among the findings.
              expect(['expected', 'background'], `${service(f)} ${f.client} → ${f.server}: ${f.detail}`).toContain(f.verdict);
              if (was !== 'expected') expect(f.verdict, `${service(f)} ${f.client} → ${f.server}`).toBe('background');
            } else {
              // Not a background service: what the product catalogs said stands.
              expect(f.verdict, `${service(f)} ${f.client} → ${f.server}: ${f.detail}`).toBe(was);
            }
            if (f.verdict === 'background') {
              expect(f.rule).toMatch(/^background:[a-z0-9-]+$/);
              expect(backgroundDocuments).toContain(f.cite!.document);
            }
          }
          // Every background service tshark sees is in the report, as background or expected.
          for (const s of seen) expect(flows.some((f) => service(f) === s && (f.verdict === 'background' || f.verdict === 'expected')), s).toBe(true);
          // Each granted port used is covered, by the product or the background.
          for (const p of granted) {
            const used = flows.filter((f) => f.proto === 'tcp' && f.serverPort === p && f.grant);
            for (const f of used) expect(['expected', 'background'], `tcp/${p}`).toContain(f.verdict);
          }
        });
      }
    });
  }

  it('leaves only tcp/8080 undocumented in the lsass-dump capture (bmc-cm), the flows tshark counts there', async () => {
    const file = 'security-datasets/metasploit_logonpasswords_lsass_memory_dump.pcapng';
    const r = await judge(file, 'bmc-cm', true);
    const { rows } = await tsharkFields(join(windows, file), ['tcp.stream'], ['-Y', 'tcp.port == 8080']);
    const streams = new Set(rows.map((x) => x[0]));
    const undocumented = [...r.flows].filter((f) => f.verdict === 'undocumented' || f.verdict === 'role-mismatch');
    expect(undocumented.map(service)).toEqual(Array(streams.size).fill('tcp/8080'));
    // The domain's chatter is background: DNS, Kerberos, CLDAP, LLMNR, mDNS, SSDP, NetBIOS, NTP, the
    // router advert, the granted RPC port; LDAP on tcp/389 is bmc-cm's own (ldap-server), and stays expected.
    const flows = [...r.flows];
    const rules = new Set(flows.filter((f) => f.verdict === 'background').map((f) => f.rule));
    expect(flows.filter((f) => f.proto === 'tcp' && f.serverPort === 389).every((f) => f.verdict === 'expected' && f.rule!.startsWith('bmc-cm:'))).toBe(true);
    for (const id of ['dns', 'kerberos', 'cldap', 'llmnr', 'mdns', 'ssdp', 'netbios-name', 'ntp', 'nd-router-advertisement', 'rpc-dynamic']) expect(rules, id).toContain(`background:${id}`);

    // The text report: the background has its own section after the findings, one line a rule with
    // its flow count; UNDOCUMENTED SERVICES holds tcp/8080 alone.
    const text = auditText(r).split('\n');
    const section = (title: string) => {
      const at = text.findIndex((l) => l.startsWith(title));
      const end = text.findIndex((l, i) => i > at && l === '');
      return at < 0 ? null : text.slice(at + 1, end < 0 ? undefined : end);
    };
    expect(text).toContain(`catalogs: bmc-cm (BMC Client Management, 55 rules); background: background (${loadBackground().rules.length} rules)`);
    expect(text.find((l) => l.startsWith('Flows: '))).toContain(`${r.summary.background} background`);
    expect(section('UNDOCUMENTED SERVICES')!.map((l) => l.trim().split(/\s+/)[0])).toEqual(['tcp/8080']);
    // One head line a rule; a line too long for the width goes on under a hanging indent.
    const bg = section('BACKGROUND SERVICES')!.filter((l) => /^ {2}\S/.test(l));
    expect(text.findIndex((l) => l.startsWith('BACKGROUND SERVICES'))).toBeGreaterThan(text.findIndex((l) => l.startsWith('UNDOCUMENTED SERVICES')));
    expect(bg.map((l) => l.trim().split(/\s+/)[0]).sort()).toEqual([...rules].sort());
    for (const id of [...rules].map((x) => x!)) {
      const n = flows.filter((f) => f.rule === id).length;
      expect(bg.find((l) => l.trim().startsWith(`${id} `)), id).toMatch(new RegExp(`^  ${id}\\s+${n} flows?, `));
    }
    // An entry is its head line and the lines under its hanging indent.
    const entries = section('BACKGROUND SERVICES')!.join('\n').split(/\n(?= {2}\S)/);
    expect(entries.find((e) => e.includes('background:dns '))).toContain('udp/53');
  });
});

describe('the background catalog', () => {
  it('is no product catalog: --catalog background is refused, and a site file with host roles or requirements is no background file', async () => {
    const { loadAuditInputs } = await import('../src/cli/analyze.js');
    expect(() => loadAuditInputs({ catalog: ['background'] })).toThrow(/applied beside the product catalogs by default/);
    expect(() => loadBackground('rules/bmc-cm.yaml')).toThrow(/roles are address classes.*"master-server"/);
    expect(loadAuditInputs({ catalog: ['bmc-cm'], background: false }).background).toBeNull();
    expect(loadAuditInputs({ catalog: ['bmc-cm'] }).background!.id).toBe('background');
  });
});
