/**
 * Follow-ups of negotiations (src/audit/followups.ts), written from the mechanism: captures made with
 * the project's writer carry endpoint-mapper, TFTP and UDP exchanges; the inspectors read them as
 * `analyze` does, and the audit must give one finding per answer with the status an engineer would.
 */
import { describe, expect, it } from 'vitest';
import { audit, loadRoleMap, type AuditReport } from '../src/audit/index.js';
import { writePcap } from '../src/capture/writer.js';
import { loadCatalog } from '../src/catalog/index.js';
import type { Catalog } from '../src/catalog/types.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { Inspectors } from '../src/inspect/index.js';
import type { FailedNegotiation } from '../src/inspect/grants.js';
import { tftpReadRequest } from '../src/synth/dcerpc.js';
import { epmExchange } from '../src/synth/epm.js';
import { frame, PacketSpec, tcpConversation } from '../src/synth/frames.js';
import { scratch, T0 } from './helpers/scratch.js';
import { checkAuditReport } from './helpers/report-schema.js';

const { write } = scratch('fa-followups-');
const SITE = '10.1.0.10';
const DC = '10.1.0.2';
const sccm = loadCatalog('sccm2007');
const bmc = loadCatalog('bmc-cm');
const roleFile = write('roles.yaml', `roles:\n  site-server: [${SITE}]\n  domain-controller: [${DC}]\n`);

/** Packets at times (seconds after T0); a step's packets are 1 ms apart. */
type Step = { at: number; specs: PacketSpec[] };

const epm = epmExchange;

let n = 0;
async function analyze(steps: Step[], opts: { catalogs?: Catalog[]; roles?: boolean; end?: number; failed?: FailedNegotiation[] } = {}): Promise<AuditReport> {
  const packets = steps.flatMap((st) => st.specs.map((spec, k) => ({ data: frame(spec), tsSec: T0 + Math.floor(st.at), tsNs: Math.round((st.at % 1) * 1e9) + k * 1_000_000 })));
  // A last packet of unrelated traffic sets how long the capture goes on.
  packets.push({ data: frame({ proto: 'udp', src: '10.9.9.1', dst: '10.9.9.2', srcPort: 40000, dstPort: 40001 }), tsSec: T0 + Math.floor(opts.end ?? 30), tsNs: Math.round(((opts.end ?? 30) % 1) * 1e9) });
  const file = write(`f${n++}.pcap`, writePcap(packets, { linkType: 1 }));
  const ins = new Inspectors();
  const run = await buildFlows([file], { onIpPacket: (v, rec, f) => ins.onPacket(v, rec, f) });
  const catalogs = opts.catalogs ?? [sccm];
  return checkAuditReport(audit(run, {
    catalogs,
    roleMap: opts.roles === false ? null : loadRoleMap(roleFile, catalogs),
    grants: ins.grants,
    failed: [...ins.failed, ...(opts.failed ?? [])],
    inspectorStats: ins.stats,
    version: 'test',
  }));
}

const followUps = (r: AuditReport) => r.requirements.filter((x) => x.followUp);

describe('one finding per endpoint-mapper answer', () => {
  it('two towers, one connected: satisfied once, and the unused tower raises nothing', async () => {
    const r = await analyze([{ at: 1, specs: epm(SITE, DC, 51001, [{ port: 49676 }, { port: 49667 }]) }, { at: 1.1, specs: tcpConversation(SITE, 51002, DC, 49667) }]);
    const f = followUps(r);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ status: 'satisfied', from: SITE, to: DC, ports: [49676, 49667], rule: 'sccm2007:link-2-rpc-dynamic', followUp: { reason: 'dcerpc-epm', by: 'new-connection', documentedBy: 'sccm2007:link-2-rpc-dynamic' } });
    expect(f[0]!.followUp!.frame).toBe(7);
    expect(r.flows.find((x) => x.serverPort === 49667)).toMatchObject({ verdict: 'expected', grant: { reason: 'dcerpc-epm', port: 49667 } });
  });

  it('nothing follows: missing when the capture goes on, inconclusive when it ends right after the grant', async () => {
    const late = await analyze([{ at: 1, specs: epm(SITE, DC, 51001, [{ port: 49670 }]) }], { end: 20 });
    expect(followUps(late)).toMatchObject([{ status: 'missing', ports: [49670] }]);
    const soon = await analyze([{ at: 1, specs: epm(SITE, DC, 51001, [{ port: 49670 }]) }], { end: 1.5 });
    expect(followUps(soon)).toMatchObject([{ status: 'inconclusive' }]);
    expect(followUps(soon)[0]!.detail).toContain('too soon');
  });

  it('a connection attempted and never answered, or refused, is failing', async () => {
    const silent = await analyze([{ at: 1, specs: epm(SITE, DC, 51001, [{ port: 49700 }]) }, { at: 1.1, specs: tcpConversation(SITE, 51002, DC, 49700, { answer: 'silent' }) }]);
    expect(followUps(silent)).toMatchObject([{ status: 'failing' }]);
    expect(followUps(silent)[0]!.evidence[0]).toMatch(/\(attempted\)$/);
    const reset = await analyze([{ at: 1, specs: epm(SITE, DC, 51001, [{ port: 49700 }]) }, { at: 1.1, specs: tcpConversation(SITE, 51002, DC, 49700, { answer: 'reset' }) }]);
    expect(followUps(reset)[0]!.detail).toContain('refused');
  });

  it('an identical answer repeated before anything followed is superseded by the later one', async () => {
    const r = await analyze([
      { at: 1, specs: epm(SITE, DC, 51001, [{ port: 49670 }]) },
      { at: 2, specs: epm(SITE, DC, 51003, [{ port: 49670 }]) },
      { at: 2.1, specs: tcpConversation(SITE, 51004, DC, 49670) },
    ]);
    const f = followUps(r);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ status: 'satisfied' });
    expect(f[0]!.followUp!.superseded).toHaveLength(1);
    expect(f[0]!.followUp!.superseded[0]!).toBeLessThan(f[0]!.followUp!.frame!);
  });

  it('the same port granted again and again: each use is credited to its own answer', async () => {
    const steps: Step[] = [];
    for (let k = 0; k < 3; k++) steps.push({ at: 1 + k, specs: epm(SITE, DC, 51000 + 2 * k, [{ port: 49670 }]) }, { at: 1.1 + k, specs: tcpConversation(SITE, 51001 + 2 * k, DC, 49670) });
    const r = await analyze(steps);
    expect(followUps(r).map((x) => x.status)).toEqual(['satisfied', 'satisfied', 'satisfied']);
    const credited = r.flows.filter((x) => x.serverPort === 49670).map((x) => x.grant!.at);
    expect(new Set(credited).size).toBe(3);
  });

  it('a connection opened before the answer and still in use after it follows it; so does server data without a handshake', async () => {
    const conn = tcpConversation(SITE, 51002, DC, 49667, { exchanges: 1 });
    const early = await analyze([{ at: 1, specs: conn.slice(0, 5) }, { at: 2, specs: epm(SITE, DC, 51001, [{ port: 49667 }]) }, { at: 3, specs: conn.slice(5) }]);
    expect(followUps(early)).toMatchObject([{ status: 'satisfied', followUp: { by: 'earlier-connection' } }]);
    const noHandshake = await analyze([{ at: 1, specs: epm(SITE, DC, 51001, [{ port: 49667 }]) }, { at: 1.1, specs: tcpConversation(SITE, 51002, DC, 49667, { noSyn: true }) }]);
    expect(followUps(noHandshake)).toMatchObject([{ status: 'satisfied' }]);
  });

  it('an endpoint-mapper call nobody answers is failing: nothing could be granted', async () => {
    const r = await analyze([{ at: 1, specs: tcpConversation(SITE, 51001, DC, 135, { answer: 'silent' }) }]);
    expect(followUps(r)).toMatchObject([{ status: 'failing', from: SITE, to: DC, ports: [135], followUp: { unanswered: true } }]);
  });

  it('an answer that refuses (EPT_S_NOT_REGISTERED) is failing, with the status it carried', async () => {
    const refused: FailedNegotiation = {
      reason: 'dcerpc-epm', kind: 'dcerpc', negotiation: 99, peer: SITE, server: DC, fromSec: T0 + 1, fromNs: 0, status: 'EPT_S_NOT_REGISTERED (0x16c9a0d6)', subject: 'DRSUAPI',
      evidence: { file: 'x', record: 7, client: SITE, clientPort: 51001, server: DC, serverPort: 135, detail: 'ept_map reply: not registered' },
    };
    const r = await analyze([{ at: 1, specs: tcpConversation(SITE, 51001, DC, 135) }], { failed: [refused] });
    expect(followUps(r)).toMatchObject([{ status: 'failing', followUp: { refused: 'EPT_S_NOT_REGISTERED (0x16c9a0d6)', subject: 'DRSUAPI' } }]);
  });

  it('in a catalog that documents no dynamic RPC the grant is still checked, as an undocumented negotiation', async () => {
    const r = await analyze([{ at: 1, specs: epm(SITE, DC, 51001, [{ port: 49670 }]) }], { catalogs: [bmc], roles: false });
    expect(followUps(r)).toMatchObject([{ status: 'missing', rule: 'negotiation:dcerpc-epm', followUp: { documentedBy: null } }]);
    // The connection that follows is undocumented there, and says which answer granted its port,
    // with its sides as the grant says even when the capture has no handshake.
    const used = await analyze([{ at: 1, specs: epm(SITE, DC, 40001, [{ port: 49670 }]) }, { at: 1.1, specs: tcpConversation(SITE, 40002, DC, 49670, { noSyn: true }) }], { catalogs: [bmc], roles: false });
    expect(followUps(used)).toMatchObject([{ status: 'satisfied', rule: 'negotiation:dcerpc-epm' }]);
    const flow = used.flows.find((x) => x.serverPort === 49670 || x.clientPort === 49670)!;
    expect(flow).toMatchObject({ verdict: 'undocumented', client: SITE, server: DC, serverPort: 49670, grant: { reason: 'dcerpc-epm', port: 49670 } });
    expect(flow.detail).toContain('frame 7');
  });

  it('without a role map a refused follow-up is reported once', async () => {
    const r = await analyze([{ at: 1, specs: epm(SITE, DC, 51001, [{ port: 49700 }]) }, { at: 1.1, specs: tcpConversation(SITE, 51002, DC, 49700, { answer: 'reset' }) }], { roles: false });
    expect(r.requirements.filter((x) => x.status === 'failing')).toHaveLength(1);
  });
});

describe('TFTP: one finding per request', () => {
  const PXE = '10.1.0.30';
  const rrq = (port: number, file: string): PacketSpec => ({ proto: 'udp', src: '10.3.0.50', dst: PXE, srcPort: port, dstPort: 69, payload: tftpReadRequest(file) });
  it('three requests, one answered from a new port: one satisfied, two failing', async () => {
    const data: PacketSpec = { proto: 'udp', src: PXE, dst: '10.3.0.50', srcPort: 61000, dstPort: 50002, payload: 516 };
    const ack: PacketSpec = { proto: 'udp', src: '10.3.0.50', dst: PXE, srcPort: 50002, dstPort: 61000, payload: 4 };
    const r = await analyze([{ at: 1, specs: [rrq(50001, 'boot.sdi')] }, { at: 2, specs: [rrq(50002, 'wdsnbp.com'), data, ack] }, { at: 3, specs: [rrq(50003, 'pxeboot.n12')] }], { roles: false });
    const f = followUps(r);
    expect(f.map((x) => x.status)).toEqual(['failing', 'satisfied', 'failing']);
    expect(f.map((x) => x.followUp!.kind)).toEqual(['tftp-transfer', 'tftp-transfer', 'tftp-transfer']);
    expect(f[0]!.detail).toContain('50001');
  });
});

describe('requirements read who sent what on which port', () => {
  it('a CAM device answering 3080 → 3080 inside the flow the Manager began is an answer', async () => {
    const cam = loadCatalog('cam');
    const camRoles = write('cam-roles.yaml', 'roles:\n  manager: [10.7.0.1]\n  device: [10.7.0.50]\n');
    const packets = [
      { proto: 'udp', src: '10.7.0.1', dst: '10.7.0.50', srcPort: 3081, dstPort: 3081, payload: 40 },
      { proto: 'udp', src: '10.7.0.1', dst: '10.7.0.50', srcPort: 3080, dstPort: 3080, payload: 40 },
      { proto: 'udp', src: '10.7.0.50', dst: '10.7.0.1', srcPort: 3080, dstPort: 3080, payload: 120 },
    ] satisfies PacketSpec[];
    const file = write('cam.pcap', writePcap(packets.map((p, i) => ({ data: frame(p), tsSec: T0, tsNs: i * 1_000_000 })), { linkType: 1 }));
    const r = audit(await buildFlows([file]), { catalogs: [cam], roleMap: loadRoleMap(camRoles, [cam]), grants: [], version: 'test' });
    expect(r.requirements.find((x) => x.rule === 'cam:discovery-answered-on-3080')).toMatchObject({ status: 'satisfied', from: '10.7.0.1', to: '10.7.0.50' });
  });

  it('a for-each finding names the peer when the role map gives exactly one host of the other role', async () => {
    const itms = loadCatalog('itms8');
    const roles = write('itms-roles.yaml', 'roles:\n  notification-server: [10.5.0.10]\n  agent: [10.6.0.21, 10.6.0.22]\n');
    const specs = tcpConversation('10.6.0.21', 50001, '10.5.0.10', 443);
    const file = write('itms.pcap', writePcap(specs.map((p, i) => ({ data: frame(p), tsSec: T0 + i * 400, tsNs: 0 })), { linkType: 1 }));
    const r = audit(await buildFlows([file]), { catalogs: [itms], roleMap: loadRoleMap(roles, [itms]), grants: [], version: 'test' });
    expect(r.requirements.find((x) => x.rule === 'itms8:agent-reaches-notification-server' && x.from === '10.6.0.22')).toMatchObject({ status: 'missing', to: '10.5.0.10' });
  });
});
