/**
 * Real Windows domains (../shared/captures/windows, truth checked frame by frame in its README):
 * `analyze` with any bundled catalog and no role map must report every endpoint-mapper answer the
 * truth lists, with the status an engineer concludes from what followed it; every DCOM string binding;
 * every TFTP request. Nothing else may claim to be a grant (a retransmitted reply is not one), and
 * no tower the truth calls not-required may raise a missing or failing finding.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditReport } from '../src/audit/index.js';
import { loadCatalog } from '../src/catalog/index.js';
import { analyzeCaptures } from '../src/cli/analyze.js';
import { skipWithoutCaptures } from './helpers/captures.js';
import { windowsDir, windowsTruth, type DcomTruth, type EpmTruth, type Retransmitted, type TftpTruth } from './helpers/windows-truth.js';
import { checkAuditReport } from './helpers/report-schema.js';

const skip = skipWithoutCaptures('windows truth');
const windows = windowsDir();
const epm = skip ? [] : windowsTruth<EpmTruth[]>('epm-truth.json');
const dcom = skip ? [] : windowsTruth<DcomTruth[]>('dcom-truth.json');
const tftp = skip ? [] : windowsTruth<TftpTruth[]>('tftp-truth.json');
const retransmitted = skip ? {} : windowsTruth<Record<string, Retransmitted[]>>('epm-retransmitted-replies.json');
const files = [...new Set([...epm.map((e) => e.file), ...dcom.map((e) => e.file), ...tftp.map((e) => e.file), ...Object.keys(retransmitted)])].sort();
const CATALOGS = ['sccm2007', 'itms8', 'bmc-cm', 'cam'];

const reports = new Map<string, AuditReport>();
async function report(file: string, catalog: string): Promise<AuditReport> {
  const key = `${file}|${catalog}`;
  let r = reports.get(key);
  if (!r) {
    r = checkAuditReport(await analyzeCaptures([join(windows, file)], { catalogs: [loadCatalog(catalog)], roleMap: null, waivers: [], version: 'test', today: '2026-12-03' }, { workers: 1 }));
    reports.set(key, r);
  }
  return r;
}

describe.skipIf(skip)('real Windows traffic: every negotiation judged as the truth says', () => {
  for (const catalog of CATALOGS) {
    describe(`--catalog ${catalog}, no role map`, () => {
      for (const file of files) {
        it(file, async () => {
          const r = await report(file, catalog);
          const findings = r.requirements.filter((x) => x.followUp && !x.followUp.unanswered);
          const ofFrame = (reason: string, frame: number) => findings.find((x) => x.followUp!.reason === reason && x.followUp!.frame === frame);
          const supersededIn = (frame: number) => findings.find((x) => x.followUp!.superseded.includes(frame));

          // Endpoint mapper: one finding per answer, its towers' ports, the status its towers' verdicts give.
          const replies = new Map<number, EpmTruth[]>();
          for (const e of epm.filter((x) => x.file === file)) replies.set(e.granted_at_frame, [...(replies.get(e.granted_at_frame) ?? []), e]);
          for (const [frame, towers] of replies) {
            const f = ofFrame('dcerpc-epm', frame) ?? supersededIn(frame);
            expect(f, `ept_map answer in frame ${frame}`).toBeDefined();
            expect(f!.from).toBe(towers[0]!.requester);
            for (const t of towers) expect(f!.ports).toContain(t.port);
            expect(towers[0]!.num_towers).toBe(towers.length);
            const verdicts = new Set(towers.map((t) => t.verdict));
            if (verdicts.has('ok')) {
              expect(f!.status, `frame ${frame}: ${f!.detail}`).toBe('satisfied');
              // The established follow-up is credited to this answer: the finding names it.
              const used = towers.find((t) => t.verdict === 'ok')!;
              const target = `${used.granted_ip}:${used.port}`;
              expect(f!.evidence.some((e) => e.includes(target)), `frame ${frame} credits a flow to ${target}: ${f!.evidence.join('; ')}`).toBe(true);
            } else if (verdicts.has('failing')) {
              expect(f!.status, `frame ${frame}: ${f!.detail}`).toBe('failing');
            }
          }
          // No other answer is claimed (a retransmitted reply is not a new grant).
          const truthFrames = new Set(replies.keys());
          for (const f of findings.filter((x) => x.followUp!.reason === 'dcerpc-epm')) {
            expect(truthFrames.has(f.followUp!.frame!), `frame ${f.followUp!.frame} is not an ept_map answer the truth lists`).toBe(true);
          }
          for (const rt of retransmitted[file] ?? []) expect(ofFrame('dcerpc-epm', rt.frame), `retransmission in frame ${rt.frame}`).toBeUndefined();
          // Missing and failing endpoint-mapper findings are exactly the truth's failing answers.
          const failingFrames = [...replies].filter(([, ts]) => ts.some((t) => t.verdict === 'failing') && !ts.some((t) => t.verdict === 'ok')).map(([fr]) => fr);
          const broken = findings.filter((x) => x.followUp!.reason === 'dcerpc-epm' && (x.status === 'missing' || x.status === 'failing')).map((x) => x.followUp!.frame);
          expect(broken.sort((a, b) => a! - b!)).toEqual(failingFrames.sort((a, b) => a - b));

          // DCOM string bindings are grants, followed as the truth says.
          for (const d of dcom.filter((x) => x.file === file)) {
            const f = ofFrame('dcom', d.granted_at_frame) ?? supersededIn(d.granted_at_frame);
            expect(f, `DCOM binding in frame ${d.granted_at_frame}`).toBeDefined();
            expect(f!.ports).toContain(d.port);
            if (d.followup === 'established') expect(f!.status).toBe('satisfied');
          }

          // TFTP: one finding per request; a request nothing answered is never satisfied.
          for (const t of tftp.filter((x) => x.file === file)) {
            const f = ofFrame('tftp', t.request_frame) ?? supersededIn(t.request_frame);
            expect(f, `TFTP request in frame ${t.request_frame}`).toBeDefined();
            if (t.outcome === 'no-response') expect(['missing', 'failing']).toContain(f!.status);
            else expect(f!.status).toBe('satisfied');
          }
        });
      }
    });
  }
});
