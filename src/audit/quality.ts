import { humanDuration } from '../core/human.js';
import type { CaptureSummary } from '../flow/pipeline.js';
import { OUTCOMES, type FlowColumns } from '../flow/columns.js';
import { MAX_PENDING_DATAGRAMS } from '../flow/fragments.js';

/** What the capture could and could not have seen, stated before any verdict. */
export interface CaptureQuality {
  durationSeconds: number;
  droppedByInterface: number;
  droppedByOs: number;
  tcpFlows: number;
  /** TCP flows with packets in one direction only (attempts excluded): a SPAN that sees one way. */
  oneSidedTcpFlows: number;
  oneSidedTcpShare: number;
  truncatedRecords: number;
  decodeErrors: number;
  timeReversals: number;
  /** Flows tagged with a VLAN in one direction only. */
  vlanAsymmetricFlows: number;
  notes: string[];
  /** Why absence cannot be trusted on this capture, or null. */
  loss: string | null;
}

export function assessQuality(capture: CaptureSummary, flows: FlowColumns, firstSec: number, firstNs: number, lastSec: number, lastNs: number): CaptureQuality {
  const duration = Number.isFinite(firstSec) && Number.isFinite(lastSec) ? lastSec - firstSec + (lastNs - firstNs) / 1e9 : 0;
  let dIf = 0;
  let dOs = 0;
  for (const f of capture.files) for (const i of 'interfaces' in f ? f.interfaces : []) {
    dIf += i.stats?.droppedByInterface ?? 0;
    dOs += i.stats?.droppedByOs ?? 0;
  }
  let tcpFlows = 0;
  let oneSided = 0;
  let vlanAsym = 0;
  for (let i = 0; i < flows.n; i++) {
    vlanAsym += flows.vlanAsymmetric[i]!;
    if (flows.proto[i] !== 6) continue;
    tcpFlows++;
    if (OUTCOMES[flows.outcome[i]!] !== 'attempted' && (flows.clientPackets[i] === 0 || flows.serverPackets[i] === 0)) oneSided++;
  }
  let truncated = 0;
  for (const [reason, { count }] of Object.entries(capture.decodeErrors)) if (reason.includes('truncated')) truncated += count;
  const share = tcpFlows ? oneSided / tcpFlows : 0;
  const notes: string[] = [];
  notes.push(`the capture spans ${humanDuration(duration)}`);
  if (dIf + dOs > 0) notes.push(`${dIf + dOs} packets were dropped while capturing (${dIf} by the interface, ${dOs} by the OS)`);
  if (oneSided > 0) notes.push(`${oneSided} of ${tcpFlows} TCP flows (${(share * 100).toFixed(0)}%) show one direction only`);
  if (truncated > 0) notes.push(`${truncated} records or headers are truncated`);
  if (capture.fragmentOverflow > 0) notes.push(`${capture.fragmentOverflow} fragmented datagrams were forgotten at the bound of ${MAX_PENDING_DATAGRAMS} waiting (their later fragments count as orphans)`);
  if (capture.timeReversals > 0) notes.push(`${capture.timeReversals === 1 ? '1 packet is' : `${capture.timeReversals} packets are`} out of time order`);
  if (vlanAsym > 0) notes.push(`${vlanAsym} flows carry a VLAN tag in one direction only (the mirror sees the directions on different ports or trunks)`);
  let loss: string | null = null;
  if (dIf + dOs > 0) loss = `the capture dropped ${dIf + dOs} packets, so absence is not proof`;
  else if (tcpFlows >= 10 && share > 0.5) loss = `most TCP flows are one-sided (${(share * 100).toFixed(0)}%): the mirror sees one direction, so absence is not proof`;
  return {
    durationSeconds: Number(duration.toFixed(6)),
    droppedByInterface: dIf,
    droppedByOs: dOs,
    tcpFlows,
    oneSidedTcpFlows: oneSided,
    oneSidedTcpShare: Number(share.toFixed(4)),
    truncatedRecords: truncated,
    decodeErrors: capture.decodeErrorCount,
    timeReversals: capture.timeReversals,
    vlanAsymmetricFlows: vlanAsym,
    notes,
    loss,
  };
}
