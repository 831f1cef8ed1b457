import type { FlowColumns } from '../flow/columns.js';
import { formatIso } from '../core/time.js';
import type { DceRpcCall, FlowRecord } from '../flow/record.js';
import { epmCallText, GRANT_NOT_OBSERVABLE_IN, rpcCallsText } from './texts.js';
import type { Judgement } from './types.js';

/**
 * What Zeek's dce_rpc.log tells an audit of flow records (the calls the Zeek reader put on each
 * flow, FlowRecord.dceRpc), in one place:
 *
 * - A flow that carried DCE/RPC calls on a port that is no well-known RPC transport is an RPC
 *   endpoint: the port an endpoint mapper hands out, or one a service registered. A catalog rule's
 *   `{ dynamic: dcerpc }` ports read it as 'rpc-calls' (readings.ts), a narrow reading, where the
 *   documented range alone is a wide one.
 * - An endpoint-mapper call (`epmapper ept_map`) from a client to a host, followed by a connection of
 *   that client to a dynamic port of the host, is linked in that connection's detail. Zeek logs the
 *   call, not its answer: the detail says that the granted port is not in the log, and no grant is
 *   made of it.
 */

/**
 * Where RPC runs on a fixed port (MS-RPCE 2.1.1): the endpoint mapper (135, ncacn_ip_tcp), named
 * pipes over SMB (139, 445, ncacn_np) and RPC over HTTP (593, ncacn_http). Calls there show nothing
 * of a dynamic port.
 */
const WELL_KNOWN_RPC_TRANSPORT = new Set([135, 139, 445, 593]);

export class RpcCallIndex {
  private readonly calls = new Map<number, DceRpcCall[]>();
  /** Flows that carried calls on a port of no well-known RPC transport. */
  private readonly endpoints = new Set<number>();
  /** Endpoint-mapper flows (with an ept_map call) by client and server host id, in flow order. */
  private readonly epm = new Map<string, number[]>();
  /** Zeek's uid of each endpoint-mapper flow, where it has one. */
  private readonly uids = new Map<number, string>();

  constructor(
    private readonly c: FlowColumns,
    records: readonly FlowRecord[],
  ) {
    for (let i = 0; i < records.length; i++) {
      const calls = records[i]!.dceRpc;
      if (calls === undefined || calls.length === 0) continue;
      this.calls.set(i, calls);
      const port = c.serverPort[i]!;
      if (port >= 0 && !WELL_KNOWN_RPC_TRANSPORT.has(port)) this.endpoints.add(i);
      if (calls.some((x) => x.endpoint === 'epmapper' && x.operation === 'ept_map')) {
        const uid = records[i]!.uid;
        if (uid !== undefined) this.uids.set(i, uid);
        const key = `${c.client[i]} ${c.server[i]}`;
        const list = this.epm.get(key);
        if (list) list.push(i);
        else this.epm.set(key, [i]);
      }
    }
  }

  /** The index of a run's flows, or null when no flow has calls. */
  static of(c: FlowColumns, records: readonly FlowRecord[]): RpcCallIndex | null {
    if (!records.some((r) => r.dceRpc !== undefined)) return null;
    return new RpcCallIndex(c, records);
  }

  /** Whether flow i carried DCE/RPC calls on a port of no well-known RPC transport (as recorded: Zeek's responder listens). */
  rpcEndpoint(i: number): boolean {
    return this.endpoints.has(i);
  }

  /** Whether flow i's detail may gain something here: it has calls, or an endpoint-mapper call came before it. */
  touches(i: number): boolean {
    return this.calls.has(i) || this.epmBefore(i) >= 0;
  }

  /** The last flow before flow i (flows are in order of start) with an ept_map call from i's client to i's server, or -1. */
  epmBefore(i: number): number {
    const c = this.c;
    const list = this.epm.get(`${c.client[i]} ${c.server[i]}`);
    if (!list) return -1;
    let k = -1;
    for (const j of list) if (j < i) k = j;
    return k;
  }

  /**
   * Flow i's judgement with what dce_rpc.log says of it, where the flow is on a dynamic port: judged
   * by a dynamic kind without its grant, or an RPC endpoint by its own calls whatever its verdict
   * (its operations are the strongest evidence of what it is). Its calls, and the endpoint-mapper
   * call before it. Other judgements come back as they are (the calls are on the flow itself).
   */
  withEvidence(j: Judgement, i: number): Judgement {
    const calls = this.calls.get(i);
    if (!j.detail.includes(GRANT_NOT_OBSERVABLE_IN) && !this.endpoints.has(i)) return j;
    const notes: string[] = [];
    if (calls !== undefined) notes.push(rpcCallsText(calls));
    const k = this.epmBefore(i);
    if (k >= 0) {
      const c = this.c;
      const call = this.calls.get(k)!.find((x) => x.endpoint === 'epmapper' && x.operation === 'ept_map')!;
      // A masked or unset call time: the time of its connection, where that has one.
      const at = call.first ?? (c.startSec[k]! > 0 ? formatIso(c.startSec[k]!, c.startNs[k]!, 6) : null);
      notes.push(epmCallText(at, c.hosts[c.client[k]!]!, c.hosts[c.server[k]!]!, c.serverPort[k]! >= 0 ? c.serverPort[k]! : null, call.operation, this.uids.get(k)));
    }
    return notes.length === 0 ? j : { ...j, detail: `${j.detail}; ${notes.join('; ')}` };
  }
}
