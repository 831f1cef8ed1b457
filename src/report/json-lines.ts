import type { JudgedFlow } from '../audit/types.js';
import { ascii, key, num, str } from '../core/json-bytes.js';
import {
  J_ASYMMETRIC, J_BYTES, J_CLIENT_BYTES, J_CLIENT_FLAGS, J_CLIENT_PACKETS, J_CLIENT_PORT, J_DURATION, J_END, J_ICMP_CODE, J_ICMP_TYPE, J_NULL,
  J_OUTCOME, J_PACKETS, J_SERVER, J_SERVER_BYTES, J_SERVER_FLAGS, J_SERVER_PACKETS, J_SERVER_PORT, J_START, J_VLAN,
} from '../flow/json.js';
import type { FlowRecord } from '../flow/record.js';

const SLACK = 64 * 1024;

/** Judged flows' lines in chunks of bytes. */
export function* judgedLineChunks(flows: Iterable<JudgedFlow>): Generator<Buffer> {
  const enc = new FlowLineEncoder();
  for (const f of flows) {
    enc.judged(f);
    if (enc.full) yield enc.take();
  }
  yield enc.take();
}

/** Flow records' lines in chunks of bytes (the flows of a table with records folded past its bound). */
export function* flowLineChunks(batches: Iterable<FlowRecord[]>): Generator<Buffer> {
  const enc = new FlowLineEncoder();
  for (const batch of batches) {
    for (const f of batch) {
      enc.flow(f);
      if (enc.full) yield enc.take();
    }
  }
  yield enc.take();
}

/**
 * The `flows` array of the JSON reports, written as bytes: each flow is one line, the same text as
 * `JSON.stringify(publicFlow(f))` (a test holds them equal on every capture of the suite), but written
 * field by field into byte chunks instead of copying the record, stringifying it and joining the
 * strings. Per flow that was a copy of the object, a string of ~400 bytes (judged: ~1.3 KB, most of
 * it the rule's citation) and its share of a joined batch: 3 µs of the 4 a flow cost to write.
 *
 * A judged flow's verdict fields (roles, rule, citation, detail) are shared by every flow judged
 * alike, so their text is made once per distinct judgement and copied.
 */
export class FlowLineEncoder {
  private buf: Buffer;
  private pos = 0;
  private lines = 0;
  private readonly chunk: number;
  /** Verdict tails by their detail sentence; entries hold the parts they were made from. */
  private readonly tails = new Map<string, Tail[]>();
  private lastTail: Tail | null = null;
  private replaced = 0;

  /** Chunks of about `chunkBytes`: big enough that writing them costs little, small enough to stream. */
  constructor(chunkBytes = 1 << 20) {
    this.chunk = chunkBytes;
    this.buf = Buffer.allocUnsafe(chunkBytes + SLACK);
  }

  /** Whether the current chunk is due to be taken. */
  get full(): boolean {
    return this.pos >= this.chunk;
  }

  /** The current chunk's bytes (complete lines); a new chunk is started. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.chunk + SLACK);
    this.pos = 0;
    return out;
  }

  /** Appends a flow record (separator, indent, JSON object). */
  flow(f: FlowRecord): void {
    this.open(f);
    this.folded(f);
    this.buf[this.pos++] = 0x7d; // }
  }

  /** A record folded past --max-flows ends with what it stands for: flows, outcomes, targets. */
  private folded(f: FlowRecord): void {
    const r = f as FlowRecord & { flows?: number; outcomes?: object; targets?: number; targetsAtLeast?: boolean };
    if (r.flows === undefined) return;
    const extra = JSON.stringify({ flows: r.flows, outcomes: r.outcomes, targets: r.targets, targetsAtLeast: r.targetsAtLeast });
    const text = `,${extra.slice(1, -1)}`;
    this.room(Buffer.byteLength(text) + 1);
    this.pos += this.buf.write(text, this.pos);
  }

  /** Appends a judged flow: the record's fields, then its verdict's (made once per judgement). */
  judged(f: JudgedFlow): void {
    this.open(f);
    const tail = this.tail(f);
    this.room(tail.length + 1);
    tail.copy(this.buf, this.pos);
    this.pos += tail.length;
    if (f.waived !== undefined) {
      const w = `,"waived":${JSON.stringify(f.waived)}`;
      this.room(Buffer.byteLength(w) + 1);
      this.pos += this.buf.write(w, this.pos);
    }
    this.folded(f);
    this.buf[this.pos++] = 0x7d;
  }

  /** The record's fields, without the closing brace. */
  private open(f: FlowRecord): void {
    // Room for the worst case, so the writers below need no checks: keys and numbers take under
    // 700 bytes, a string at most 6 bytes a character (escaped), a tunnel list its JSON.
    const tunnel = f.tunnel === undefined ? '' : JSON.stringify(f.tunnel);
    this.room(1024 + 6 * (f.proto.length + f.client.length + f.server.length + (f.start?.length ?? 4) + (f.end?.length ?? 4) +
      (f.outcome?.length ?? 4) + f.direction.length + (f.clientFlags?.length ?? 0) + (f.serverFlags?.length ?? 0)) + 3 * tunnel.length);
    const b = this.buf;
    let p = this.pos;
    if (this.lines++ > 0) b[p++] = 0x2c; // ,
    p = key(b, p, K_PROTO);
    p = str(b, p, f.proto);
    p = key(b, p, K_IP_VERSION);
    p = num(b, p, f.ipVersion);
    p = key(b, p, K_CLIENT);
    p = str(b, p, f.client);
    p = key(b, p, J_CLIENT_PORT);
    p = f.clientPort === null ? key(b, p, J_NULL) : num(b, p, f.clientPort);
    p = key(b, p, J_SERVER);
    p = str(b, p, f.server);
    p = key(b, p, J_SERVER_PORT);
    p = f.serverPort === null ? key(b, p, J_NULL) : num(b, p, f.serverPort);
    p = key(b, p, J_PACKETS);
    p = num(b, p, f.packets);
    p = key(b, p, J_BYTES);
    p = num(b, p, f.bytes);
    p = key(b, p, J_CLIENT_PACKETS);
    p = num(b, p, f.clientPackets);
    p = key(b, p, J_CLIENT_BYTES);
    p = num(b, p, f.clientBytes);
    p = key(b, p, J_SERVER_PACKETS);
    p = num(b, p, f.serverPackets);
    p = key(b, p, J_SERVER_BYTES);
    p = num(b, p, f.serverBytes);
    p = key(b, p, J_START);
    p = f.start === null ? key(b, p, J_NULL) : str(b, p, f.start);
    p = key(b, p, J_END);
    p = f.end === null ? key(b, p, J_NULL) : str(b, p, f.end);
    p = key(b, p, J_DURATION);
    p = num(b, p, f.duration);
    p = key(b, p, J_OUTCOME);
    p = f.outcome === null ? key(b, p, J_NULL) : str(b, p, f.outcome);
    p = key(b, p, K_DIRECTION);
    p = str(b, p, f.direction);
    if (f.clientFlags !== undefined) {
      p = key(b, p, J_CLIENT_FLAGS);
      p = str(b, p, f.clientFlags);
    }
    if (f.serverFlags !== undefined) {
      p = key(b, p, J_SERVER_FLAGS);
      p = str(b, p, f.serverFlags);
    }
    if (f.icmpType !== undefined) {
      p = key(b, p, J_ICMP_TYPE);
      p = num(b, p, f.icmpType);
    }
    if (f.icmpCode !== undefined) {
      p = key(b, p, J_ICMP_CODE);
      p = num(b, p, f.icmpCode);
    }
    if (f.vlan !== undefined) {
      p = key(b, p, J_VLAN);
      p = num(b, p, f.vlan);
    }
    if (f.vlanAsymmetric !== undefined) p = key(b, p, f.vlanAsymmetric ? J_ASYMMETRIC : K_ASYM_FALSE);
    if (f.tunnel !== undefined) {
      p = key(b, p, K_TUNNEL);
      p += b.write(tunnel, p);
    }
    this.pos = p;
  }

  /** The verdict's fields as JSON text, found by identity of the parts it was made from. */
  private tail(f: JudgedFlow): Buffer {
    const last = this.lastTail;
    if (last !== null && sameTail(last, f)) return last.text;
    let list = this.tails.get(f.detail);
    if (list === undefined) this.tails.set(f.detail, (list = []));
    for (const t of list) {
      if (sameTail(t, f)) {
        this.lastTail = t;
        return t.text;
      }
    }
    const json = JSON.stringify({
      clientRoles: f.clientRoles,
      serverRoles: f.serverRoles,
      clientRolesFrom: f.clientRolesFrom,
      serverRolesFrom: f.serverRolesFrom,
      verdict: f.verdict,
      rule: f.rule,
      matches: f.matches,
      cite: f.cite,
      grant: f.grant,
      detail: f.detail,
    });
    const t: Tail = {
      clientRoles: f.clientRoles, serverRoles: f.serverRoles, clientRolesFrom: f.clientRolesFrom, serverRolesFrom: f.serverRolesFrom,
      verdict: f.verdict, rule: f.rule, matches: f.matches, cite: f.cite, grant: f.grant, detail: f.detail,
      text: Buffer.from(`,${json.slice(1, -1)}`),
    };
    // Parts made per flow (not shared) would grow the list without end: keep the last few only.
    if (list.length < 8) list.push(t);
    else list[this.replaced++ % 8] = t;
    this.lastTail = t;
    return t.text;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

const K_PROTO = ascii('\n    {"proto":');
const K_IP_VERSION = ascii(',"ipVersion":');
const K_CLIENT = ascii(',"client":');
const K_DIRECTION = ascii(',"direction":');
const K_ASYM_FALSE = ascii(',"vlanAsymmetric":false');
const K_TUNNEL = ascii(',"tunnel":');

interface Tail {
  clientRoles: string[];
  serverRoles: string[];
  clientRolesFrom: string;
  serverRolesFrom: string;
  verdict: string;
  rule: string | null;
  matches: string[];
  cite: unknown;
  grant: unknown;
  detail: string;
  text: Buffer;
}

function sameTail(t: Tail, f: JudgedFlow): boolean {
  return (
    t.detail === f.detail && t.cite === f.cite && t.clientRoles === f.clientRoles && t.serverRoles === f.serverRoles &&
    t.matches === f.matches && t.rule === f.rule && t.verdict === f.verdict && t.grant === f.grant &&
    t.clientRolesFrom === f.clientRolesFrom && t.serverRolesFrom === f.serverRolesFrom
  );
}
