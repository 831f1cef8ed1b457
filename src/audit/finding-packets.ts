/**
 * From a finding to its packets: the flows that decided it, each with where its packets are (file and
 * tshark frames) and its filters, and the finding's own filters (flow/filter.ts) — the `||` of its
 * flows', or its hosts and ports when no flow shows it (a missing flow's filter selects nothing, which
 * is what the finding claims).
 */
import { bpfFilter, displayFilter, findingFilters, MAX_FILTER_FLOWS, type FindingScope } from '../flow/filter.js';
import type { JudgedFlows } from './judged.js';
import { flowLabel } from './texts.js';
import type { EvidenceFlow, RequirementFinding } from './types.js';

/** The evidence fields of a finding decided by flows `indices` of `judged`, within `scope`. */
export function findingEvidence(judged: JudgedFlows, indices: readonly number[], scope: FindingScope): Pick<RequirementFinding, 'evidence' | 'evidenceFlows' | 'filter' | 'bpf'> {
  const records = indices.slice(0, MAX_FILTER_FLOWS).map((i) => judged.at(i)!);
  const flows: EvidenceFlow[] = records.map((f) => ({
      proto: f.proto,
      client: f.client,
      clientPort: f.clientPort,
      server: f.server,
      serverPort: f.serverPort,
      outcome: f.outcome,
      packets: f.packets,
      start: f.start,
      firstFile: f.firstFile,
      firstFrame: f.firstFrame,
      lastFile: f.lastFile,
      lastFrame: f.lastFrame,
      filter: displayFilter(f),
      bpf: bpfFilter(f),
  }));
  // Past MAX_FILTER_FLOWS flows the finding's filter names its hosts and ports instead.
  const { filter, bpf } = findingFilters(indices.length <= MAX_FILTER_FLOWS ? records : [], scope);
  return { evidence: indices.map((i) => flowLabel(judged, i)), evidenceFlows: flows, filter, bpf };
}
