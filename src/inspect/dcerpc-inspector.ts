import { DCERPC } from './bounds.js';
import type { FailedNegotiation, Grant, InspectorStats } from './grants.js';
import {
  AUTHN_LEVEL_PKT_PRIVACY,
  contextResults,
  EPM_UUID,
  EPT_S_NOT_REGISTERED,
  eptMapReply,
  eptMapRequestInterface,
  interfaceName,
  IOXIDRESOLVER_UUID,
  isAddressLiteral,
  ISYSTEMACTIVATOR_UUID,
  NDR32_UUID,
  NDR64_UUID,
  pduHeader,
  PduHeader,
  PFC_FIRST_FRAG,
  PFC_LAST_FRAG,
  proposedContexts,
  ProposedContext,
  PTYPE_ALTER_CONTEXT,
  PTYPE_ALTER_CONTEXT_RESP,
  PTYPE_BIND,
  PTYPE_BIND_ACK,
  PTYPE_FAULT,
  PTYPE_REQUEST,
  PTYPE_RESPONSE,
  stringBindings,
  stubExtent,
} from './dcerpc.js';
import { GrantSink, Inspector, newStats, overBound } from './inspector.js';
import type { Direction, SegmentAt, StreamConsumer, TcpConnection } from './tcp-stream.js';

export const EPM_PORT = 135;


/** The operations whose answers name ports, by interface and opnum. */
type Operation = 'ept_map' | 'RemoteGetClassObject' | 'RemoteCreateInstance' | 'RemoteActivation' | 'ResolveOxid' | 'ResolveOxid2';

const IACTIVATION_UUID = '4d9f4ab8-7d1c-11cf-861e-0020af6e7c57';

function operation(abstractSyntax: string, opnum: number): Operation | null {
  if (abstractSyntax === EPM_UUID) return opnum === 3 ? 'ept_map' : null;
  if (abstractSyntax === ISYSTEMACTIVATOR_UUID) return opnum === 3 ? 'RemoteGetClassObject' : opnum === 4 ? 'RemoteCreateInstance' : null;
  if (abstractSyntax === IOXIDRESOLVER_UUID) return opnum === 0 ? 'ResolveOxid' : opnum === 4 ? 'ResolveOxid2' : null;
  if (abstractSyntax === IACTIVATION_UUID) return opnum === 0 ? 'RemoteActivation' : null;
  return null;
}

/** A presentation context the server accepted: its interface and whether it speaks NDR64. */
interface Context {
  abstractSyntax: string;
  ndr64: boolean;
}

interface Call {
  op: Operation;
  contextId: number;
  subject: string | undefined;
  requestRecord: number;
  /** Stub bytes of the answer's fragments so far; null until a first fragment arrives. */
  parts: Buffer[] | null;
  partBytes: number;
  answerStart: number;
}

/** HRESULTs and statuses a reader of a refusal recognises. */
const STATUS_NAMES: Record<number, string> = {
  [EPT_S_NOT_REGISTERED]: 'EPT_S_NOT_REGISTERED',
  0x80070005: 'E_ACCESSDENIED',
  0x80004002: 'E_NOINTERFACE',
  0x80040154: 'REGDB_E_CLASSNOTREG',
  0x80080005: 'CO_E_SERVER_EXEC_FAILURE',
  0x800706ba: 'RPC_S_SERVER_UNAVAILABLE',
  0x80070776: 'OR_INVALID_OXID',
  0x00000005: 'ERROR_ACCESS_DENIED',
  0x1c010003: 'nca_op_rng_error',
  0x1c00001a: 'nca_s_fault_remote_no_memory',
};

function statusText(status: number, fault: boolean): string {
  const hex = `0x${(status >>> 0).toString(16).padStart(8, '0')}`;
  const name = STATUS_NAMES[status >>> 0];
  return [fault ? 'fault' : '', name ?? '', hex].filter((s) => s !== '').join(' ');
}

/**
 * DCE/RPC on the endpoint mapper's port (TCP 135): ept_map answers (the endpoint mapper) and the DCOM
 * answers that carry string bindings (ISystemActivator's activations, IOXIDResolver's OXID
 * resolutions), which clients bind on the same connections. Each connection tracks its binds and
 * alter_contexts (which context id is which interface, and whether the server accepted NDR or NDR64)
 * and its calls (context id and opnum), so an answer is decoded as what it answers. What a
 * connection holds and what one answer grants are bounded (bounds.ts DCERPC), each excess counted.
 */
export class DceRpcInspector implements Inspector {
  readonly epm: InspectorStats = newStats('dcerpc-epm');
  readonly dcom: InspectorStats = newStats('dcom');
  readonly stats = [this.epm, this.dcom];

  /** Stub bytes of unfinished fragmented answers over all connections. */
  pendingBytes = 0;

  constructor(readonly sink: GrantSink) {}

  openStream(conn: TcpConnection): StreamConsumer {
    return new DceRpcConnection(this, conn);
  }

  streamDropped(): void {
    this.epm.streamsDropped++;
  }
}

class DceRpcConnection implements StreamConsumer {
  private readonly contexts = new Map<number, Context>();
  private readonly binds = new Map<number, ProposedContext[]>();
  private readonly calls = new Map<number, Call>();
  /** Stream ranges (server direction) of answers read, and whose statistics they count in. */
  private readonly answers: Array<{ start: number; end: number; stats: InspectorStats }> = [];
  /** Per direction: after damage or a gap, until a PDU header lines up again (counted once). */
  private readonly lost: [boolean, boolean] = [false, false];
  /** Stub bytes this connection's unfinished answers hold. */
  private own = 0;

  constructor(
    private readonly ins: DceRpcInspector,
    private readonly conn: TcpConnection,
  ) {}

  data(dir: Direction, buf: Buffer, from: number, to: number, offset: number, at: SegmentAt): number {
    let p = from;
    while (to - p >= 16) {
      const h = pduHeader(buf, p, to);
      if (h === null) {
        if (!this.lost[dir]) this.ins.epm.malformed++;
        this.lost[dir] = true;
        return to - from; // nothing here lines up: wait for the next segment
      }
      if (to - p < h.fragLength) break;
      this.lost[dir] = false;
      const pdu = buf.subarray(p, p + h.fragLength);
      if (dir === 0) this.fromClient(pdu, h, at);
      else this.fromServer(pdu, h, at, offset + (p - from));
      p += h.fragLength;
    }
    return p - from;
  }

  retransmitted(dir: Direction, offset: number, length: number): void {
    if (dir !== 1) return;
    for (const a of this.answers) {
      // A keep-alive repeats one old byte: only a real part of an answer counts as its retransmission.
      const overlap = Math.min(a.end, offset + length) - Math.max(a.start, offset);
      if (overlap >= Math.min(16, a.end - a.start)) {
        a.stats.retransmitted++;
        return;
      }
    }
  }

  gap(dir: Direction): void {
    this.lost[dir] = true;
    // Fragments of an answer in progress may be what was lost.
    if (dir === 1) for (const c of this.calls.values()) this.release(c);
  }

  close(unread: number, atBound: boolean): void {
    // A PDU the connection's end cut short could not be read (one dropped at the bounds is counted there).
    if (unread > 0 && !atBound && !(this.lost[0] && this.lost[1])) this.ins.epm.malformed++;
    for (const c of this.calls.values()) this.release(c);
    this.calls.clear();
  }

  /** Lets an answer's fragments go. */
  private release(call: Call): void {
    this.ins.pendingBytes -= call.partBytes;
    this.own -= call.partBytes;
    call.parts = null;
    call.partBytes = 0;
  }

  /** Forgets a call, with whatever fragments of its answer it held. */
  private forget(callId: number): void {
    const call = this.calls.get(callId);
    if (!call) return;
    this.release(call);
    this.calls.delete(callId);
  }

  private fromClient(pdu: Buffer, h: PduHeader, at: SegmentAt): void {
    if (h.ptype === PTYPE_BIND || h.ptype === PTYPE_ALTER_CONTEXT) {
      const proposed = proposedContexts(pdu, h);
      if (proposed === null) {
        this.ins.epm.malformed++;
        return;
      }
      if (proposed.length > DCERPC.maxContextsPerBind) {
        overBound(this.ins.epm, 'contexts-per-bind');
        proposed.length = DCERPC.maxContextsPerBind;
      }
      this.binds.delete(h.callId);
      if (this.binds.size >= DCERPC.maxBinds) {
        this.binds.delete(this.binds.keys().next().value as number);
        overBound(this.ins.epm, 'binds');
      }
      this.binds.set(h.callId, proposed);
    } else if (h.ptype === PTYPE_REQUEST) {
      const ext = stubExtent(pdu, h);
      if (ext === null) {
        this.ins.epm.malformed++;
        return;
      }
      const ctx = this.contexts.get(ext.contextId);
      // A request can be read before the ack of its bind (both in one segment, or the ack delayed):
      // the proposed context names the interface, the ack the transfer syntax, looked up at the answer.
      const abstractSyntax = ctx?.abstractSyntax ?? this.proposed(ext.contextId);
      // Without the bind (the capture began inside the connection) an opnum 3 is most likely ept_map.
      const op = abstractSyntax !== null ? operation(abstractSyntax, ext.opnum) : ext.opnum === 3 ? 'ept_map' : null;
      if (op === null) return;
      let call = this.calls.get(h.callId);
      if (!call || h.flags & PFC_FIRST_FRAG) {
        let subject: string | undefined;
        if (op === 'ept_map' && ext.authLevel !== AUTHN_LEVEL_PKT_PRIVACY) {
          const tryNdr = (ndr64: boolean) => eptMapRequestInterface(pdu, ext.start, ext.end, h.littleEndian, ndr64);
          const uuid = ctx ? tryNdr(ctx.ndr64) : (tryNdr(false) ?? tryNdr(true));
          if (uuid !== null) subject = interfaceName(uuid);
        } else if (op !== 'ept_map') subject = `${interfaceName(abstractSyntax!)}.${op}`;
        call = { op, contextId: ext.contextId, subject, requestRecord: at.recordNo, parts: null, partBytes: 0, answerStart: 0 };
        this.forget(h.callId);
        if (this.calls.size >= DCERPC.maxCalls) {
          this.forget(this.calls.keys().next().value as number);
          overBound(this.ins.epm, 'calls');
        }
        this.calls.set(h.callId, call);
      }
      // The request is complete with its last fragment: that is the frame a reader looks for.
      if (h.flags & PFC_LAST_FRAG) call.requestRecord = at.recordNo;
    }
  }

  /** The interface a bind still waiting for its ack proposed for a context id, or null. */
  private proposed(contextId: number): string | null {
    for (const list of this.binds.values()) for (const p of list) if (p.contextId === contextId) return p.abstractSyntax;
    return null;
  }

  private fromServer(pdu: Buffer, h: PduHeader, at: SegmentAt, offset: number): void {
    if (h.ptype === PTYPE_BIND_ACK || h.ptype === PTYPE_ALTER_CONTEXT_RESP) {
      const proposed = this.binds.get(h.callId);
      this.binds.delete(h.callId);
      const results = contextResults(pdu, h);
      if (results === null) {
        this.ins.epm.malformed++;
        return;
      }
      if (!proposed) return;
      for (let i = 0; i < results.length && i < proposed.length; i++) {
        const r = results[i]!;
        if (r.result !== 0) continue; // rejected, or a bind-time feature negotiation answer
        const p = proposed[i]!;
        // The ack names the transfer syntax it accepted; an empty one means the only one proposed.
        const syntax = r.transferSyntax === NDR64_UUID || r.transferSyntax === NDR32_UUID ? r.transferSyntax : p.transferSyntaxes[0];
        if (this.contexts.size >= DCERPC.maxContexts && !this.contexts.has(p.contextId)) {
          overBound(this.ins.epm, 'contexts');
          continue;
        }
        this.contexts.set(p.contextId, { abstractSyntax: p.abstractSyntax, ndr64: syntax === NDR64_UUID });
      }
      return;
    }
    if (h.ptype !== PTYPE_RESPONSE && h.ptype !== PTYPE_FAULT) return;
    const call = this.calls.get(h.callId);
    if (!call) return;
    const stats = call.op === 'ept_map' ? this.ins.epm : this.ins.dcom;
    if (h.ptype === PTYPE_FAULT) {
      this.forget(h.callId);
      if (pdu.length < 28) {
        stats.malformed++;
        return;
      }
      const status = h.littleEndian ? pdu.readUInt32LE(24) : pdu.readUInt32BE(24);
      this.refuse(call, stats, statusText(status, true), at);
      this.remember(offset, offset + pdu.length, stats);
      return;
    }
    const ext = stubExtent(pdu, h);
    if (ext === null) {
      this.forget(h.callId);
      stats.malformed++;
      return;
    }
    if (h.flags & PFC_FIRST_FRAG) {
      this.release(call);
      call.parts = [];
      call.answerStart = offset;
    }
    if (call.parts === null) return; // the first fragment was never seen
    if (ext.authLevel === AUTHN_LEVEL_PKT_PRIVACY) {
      // Sealed: the ports are there but cannot be read.
      this.forget(h.callId);
      stats.malformed++;
      return;
    }
    const last = (h.flags & PFC_LAST_FRAG) !== 0;
    if (last && call.parts.length === 0) {
      // A single-fragment answer (almost all of them): read in place, nothing is held.
      this.calls.delete(h.callId);
      this.remember(offset, offset + pdu.length, stats);
      this.answer(call, pdu.subarray(ext.start, ext.end), h.littleEndian, at);
      return;
    }
    const n = ext.end - ext.start;
    // Fragments that never end (no PFC_LAST_FRAG) must not grow without bound: the answer is dropped.
    if (this.own + n > DCERPC.maxAnswerBytes || this.ins.pendingBytes + n > DCERPC.maxPendingBytes) {
      overBound(stats, this.own + n > DCERPC.maxAnswerBytes ? 'answer-bytes' : 'pending-answer-bytes');
      this.forget(h.callId);
      return;
    }
    call.parts.push(Buffer.from(pdu.subarray(ext.start, ext.end)));
    call.partBytes += n;
    this.own += n;
    this.ins.pendingBytes += n;
    if (!last) return;
    const stub = Buffer.concat(call.parts);
    this.forget(h.callId);
    this.remember(call.answerStart, offset + pdu.length, stats);
    this.answer(call, stub, h.littleEndian, at);
  }

  private answer(call: Call, stub: Buffer, le: boolean, at: SegmentAt): void {
    if (call.op === 'ept_map') this.eptMapAnswer(call, stub, le, at);
    else this.dcomAnswer(call, stub, le, at);
  }

  private remember(start: number, end: number, stats: InspectorStats): void {
    if (this.answers.length >= DCERPC.answersRemembered) this.answers.shift();
    this.answers.push({ start, end, stats });
  }

  private evidence(call: Call, at: SegmentAt, detail: string): Grant['evidence'] {
    const c = this.conn;
    return { file: at.file, record: at.recordNo, requestRecord: call.requestRecord, client: c.client, clientPort: c.clientPort, server: c.server, serverPort: c.serverPort, detail };
  }

  private refuse(call: Call, stats: InspectorStats, status: string, at: SegmentAt): void {
    stats.read++;
    stats.refused++;
    const reason = call.op === 'ept_map' ? 'dcerpc-epm' : 'dcom';
    const failed: FailedNegotiation = {
      reason,
      kind: 'dcerpc',
      negotiation: this.ins.sink.nextNegotiation(),
      peer: this.conn.client,
      server: this.conn.server,
      fromSec: at.tsSec,
      fromNs: at.tsNs,
      status,
      ...(call.subject !== undefined ? { subject: call.subject } : {}),
      evidence: this.evidence(call, at, `${call.op} answer: ${status}`),
    };
    this.ins.sink.failed.push(failed);
  }

  private eptMapAnswer(call: Call, stub: Buffer, le: boolean, at: SegmentAt): void {
    const epm = this.ins.epm;
    // Without the bind (the capture began inside the connection) the stub's layout tells the syntax.
    const ctx = this.contexts.get(call.contextId);
    const reply = ctx === undefined ? (eptMapReply(stub, 0, stub.length, le, false) ?? eptMapReply(stub, 0, stub.length, le, true)) : eptMapReply(stub, 0, stub.length, le, ctx.ndr64);
    if (reply === null) {
      epm.malformed++;
      return;
    }
    const towers = reply.towers.filter((t) => t !== null);
    if (towers.length === 0) {
      if (reply.status !== 0) this.refuse(call, epm, statusText(reply.status, false), at);
      else epm.read++;
      return;
    }
    epm.read++;
    const negotiation = this.ins.sink.nextNegotiation();
    const c = this.conn;
    if (towers.length > DCERPC.maxTowersPerAnswer) {
      overBound(epm, 'towers-per-answer', towers.length - DCERPC.maxTowersPerAnswer);
      towers.length = DCERPC.maxTowersPerAnswer;
    }
    for (const t of towers) {
      // 0.0.0.0 (or no address floor) means the responder itself. The address floor is IPv4 only:
      // reached over IPv6, the endpoint mapper's port is on the address the client used.
      const host = c.ipVersion === 6 || t.ip === null || t.ip === '0.0.0.0' ? c.server : t.ip;
      this.ins.sink.grant({
        host,
        transport: t.transport,
        port: t.port,
        peer: c.client,
        fromSec: at.tsSec,
        fromNs: at.tsNs,
        reason: 'dcerpc-epm',
        kind: 'dcerpc',
        negotiation,
        ...(call.subject !== undefined ? { subject: call.subject } : t.interface !== null ? { subject: interfaceName(t.interface) } : {}),
        evidence: this.evidence(call, at, `ept_map reply: ${t.protseq} ${host}[${t.port}]`),
      }, epm);
    }
  }

  private dcomAnswer(call: Call, stub: Buffer, le: boolean, at: SegmentAt): void {
    const dcom = this.ins.dcom;
    const c = this.conn;
    // One grant per port: an answer names the same endpoint by host name and by each address.
    const byPort = new Map<string, { transport: 'tcp' | 'udp'; port: number; host: string; binding: string }>();
    const scan = stringBindings(stub, 0, stub.length, le);
    if (scan.exhausted) overBound(dcom, 'scan-work');
    for (const b of scan.bindings) {
      const host = isAddressLiteral(b.host) ? b.host.toLowerCase() : c.server;
      const key = `${b.transport}/${b.port}`;
      const seen = byPort.get(key);
      if (!seen && byPort.size >= DCERPC.maxBindingsPerAnswer) overBound(dcom, 'bindings-per-answer');
      else if (!seen) byPort.set(key, { transport: b.transport, port: b.port, host, binding: `${b.host}[${b.port}]` });
      else if (seen.host !== c.server && host === c.server) seen.host = host; // the responder wins over another address
    }
    if (byPort.size === 0) {
      const hresult = stub.length >= 4 ? (le ? stub.readUInt32LE(stub.length - 4) : stub.readUInt32BE(stub.length - 4)) : 0;
      if (hresult !== 0) this.refuse(call, dcom, statusText(hresult, false), at);
      else dcom.read++; // answered without a new endpoint (an OXID the client already knew)
      return;
    }
    dcom.read++;
    const negotiation = this.ins.sink.nextNegotiation();
    for (const g of byPort.values()) {
      this.ins.sink.grant({
        host: g.host,
        transport: g.transport,
        port: g.port,
        peer: c.client,
        fromSec: at.tsSec,
        fromNs: at.tsNs,
        reason: 'dcom',
        kind: 'dcerpc',
        negotiation,
        ...(call.subject !== undefined ? { subject: call.subject } : {}),
        evidence: this.evidence(call, at, `${call.op} answer: string binding ${g.binding}`),
      }, dcom);
    }
  }
}
