import type { RequirementFinding } from '../../audit/types.js';

/** What most often makes a required flow missing or failing, from the TCP evidence. */
export function likelyCause(r: RequirementFinding): string {
  const f = r.followUp;
  if (f && (r.status === 'failing' || r.status === 'missing')) {
    if (f.refused) return `the server refused the lookup (${f.refused}): the service is stopped or not installed there`;
    if (f.unanswered) return r.evidence.some((e) => e.endsWith(' (rejected)')) ? 'the negotiation port itself refused the call (reset): nothing could be granted' : 'the negotiation port itself never answered: a firewall drops it or the service is down, so nothing could be granted';
    if (r.status === 'failing' && f.kind === 'tftp-transfer') return 'no answer from a new server port: a firewall that opens only UDP 69 drops the transfer, or the server ignored the request';
    if (r.status === 'missing') return 'the requester never used the granted port: it may have fallen back to another transport (named pipes over SMB), or a firewall before the capture point blocks it';
  }
  if (r.status === 'failing') {
    // Evidence labels end in the flow's outcome: reading them is enough (scanning every flow of the
    // capture for each failing finding was quadratic when a firewall fails thousands of agents).
    if (r.evidence.some((e) => e.endsWith(' (rejected)'))) return 'the connection was refused (reset): nothing listens on the port, or a host firewall rejects it';
    return 'the SYN was never answered: a firewall drops it, or the host is down';
  }
  if (r.status === 'missing') return 'never attempted: the feature is not configured, or traffic is blocked before it reaches the capture point';
  return '';
}
