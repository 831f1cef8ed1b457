import { FlowColumns, OUTCOMES, portOrNull, PROTO_NAMES } from '../flow/columns.js';
import type { TcpOutcome } from '../flow/record.js';
import { LINE_ROOM } from '../flow/json.js';
import { lineChunks as encodeLines, type LineCursor } from '../flow/line-chunks.js';
import { judgementText } from './judged-fields.js';
import type { Judgement, JudgedFlow, Verdict } from './types.js';

export type Waived = NonNullable<JudgedFlow['waived']>;

const NO_WAIVERS = new Map<number, Waived>();

/**
 * The judged flows of an audit: the flows' columns and, per flow, the index of its judgement. A
 * flow's judged record (`JudgedFlow`) is made when a report asks for it and not kept, so 200 000
 * flows cost the audit a few arrays instead of 200 000 long-lived objects; the JSON report writes its
 * lines from the columns' source with each judgement's text made once.
 *
 * The list reads like a read-only array of judged records (length, at, iteration, find, filter, map,
 * some, every); each call makes new records.
 */
export class JudgedFlows implements Iterable<JudgedFlow> {
  private waivedBy: Map<number, Waived> = NO_WAIVERS;

  constructor(
    readonly columns: FlowColumns,
    /** The distinct judgements. */
    readonly judgements: readonly Judgement[],
    /** Per flow, its judgement's index. */
    readonly of: Uint32Array,
  ) {}

  get length(): number {
    return this.columns.n;
  }

  judgement(i: number): Judgement {
    return this.judgements[this.of[i]!]!;
  }

  verdict(i: number): Verdict {
    return this.judgements[this.of[i]!]!.verdict;
  }

  /** Host ids of the judged client and server (exchanged when the catalog's port said so). */
  client(i: number): number {
    return this.judgement(i).swapped ? this.columns.server[i]! : this.columns.client[i]!;
  }

  server(i: number): number {
    return this.judgement(i).swapped ? this.columns.client[i]! : this.columns.server[i]!;
  }

  /** The judged client and server ports, null without ports. */
  clientPort(i: number): number | null {
    return portOrNull(this.judgement(i).swapped ? this.columns.serverPort[i]! : this.columns.clientPort[i]!);
  }

  serverPort(i: number): number | null {
    return portOrNull(this.judgement(i).swapped ? this.columns.clientPort[i]! : this.columns.serverPort[i]!);
  }

  proto(i: number): string {
    return PROTO_NAMES[this.columns.proto[i]!]!;
  }

  outcome(i: number): TcpOutcome | null {
    return OUTCOMES[this.columns.outcome[i]!]!;
  }

  waive(i: number, w: Waived): void {
    if (this.waivedBy === NO_WAIVERS) this.waivedBy = new Map();
    this.waivedBy.set(i, w);
  }

  /** Flow i's waiver, if one applies. */
  waiver(i: number): Waived | undefined {
    return this.waivedBy.get(i);
  }

  get waivedCount(): number {
    return this.waivedBy.size;
  }

  /** How many flows have this verdict. */
  count(verdict: Verdict): number {
    const hits = this.judgements.map((j) => j.verdict === verdict);
    let n = 0;
    for (let i = 0; i < this.of.length; i++) if (hits[this.of[i]!]) n++;
    return n;
  }

  /** Whether a flow has this verdict and no waiver. */
  hasUnwaived(verdict: Verdict): boolean {
    for (let i = 0; i < this.of.length; i++) if (this.verdict(i) === verdict && !this.waivedBy.has(i)) return true;
    return false;
  }

  /** The judged records of the flows with this verdict (waived ones too, unless `waived` is false). */
  withVerdict(verdict: Verdict, waived = true): JudgedFlow[] {
    const out: JudgedFlow[] = [];
    for (let i = 0; i < this.of.length; i++) if (this.verdict(i) === verdict && (waived || !this.waivedBy.has(i))) out.push(this.at(i)!);
    return out;
  }

  /** The same records one at a time, each made when it is read (a report streams them). */
  *eachWithVerdict(verdict: Verdict, waived = true): Generator<JudgedFlow> {
    for (let i = 0; i < this.of.length; i++) if (this.verdict(i) === verdict && (waived || !this.waivedBy.has(i))) yield this.at(i)!;
  }

  /** Whether any flow has this verdict (waived ones too, unless `waived` is false). */
  anyWithVerdict(verdict: Verdict, waived = true): boolean {
    for (let i = 0; i < this.of.length; i++) if (this.verdict(i) === verdict && (waived || !this.waivedBy.has(i))) return true;
    return false;
  }

  /** The judged records of the waived flows, in flow order. */
  waivedFlows(): JudgedFlow[] {
    return [...this.waivedBy.keys()].sort((a, b) => a - b).map((i) => this.at(i)!);
  }

  /** Flow i's judged record (a new object each call); a negative index counts from the end. */
  at(i: number): JudgedFlow | undefined {
    if (i < 0) i += this.columns.n;
    if (i < 0 || i >= this.columns.n) return undefined;
    const f = this.columns.record(i) as JudgedFlow;
    const j = this.judgement(i);
    if (j.swapped) {
      const { client, clientPort, clientPackets, clientBytes, clientFlags } = f;
      f.client = f.server;
      f.clientPort = f.serverPort;
      f.server = client;
      f.serverPort = clientPort;
      f.clientPackets = f.serverPackets;
      f.clientBytes = f.serverBytes;
      f.serverPackets = clientPackets;
      f.serverBytes = clientBytes;
      f.clientFlags = f.serverFlags;
      f.serverFlags = clientFlags;
    }
    f.clientRoles = j.clientRoles;
    f.serverRoles = j.serverRoles;
    f.clientRolesFrom = j.clientRolesFrom;
    f.serverRolesFrom = j.serverRolesFrom;
    if (j.swapped) f.direction = 'catalog-port';
    f.verdict = j.verdict;
    f.rule = j.rule;
    f.matches = j.matches;
    f.cite = j.cite;
    if (j.grant) f.grant = j.grant;
    f.detail = j.detail;
    const w = this.waivedBy.get(i);
    if (w) f.waived = w;
    return f;
  }

  *[Symbol.iterator](): Iterator<JudgedFlow> {
    for (let i = 0; i < this.columns.n; i++) yield this.at(i)!;
  }

  toArray(): JudgedFlow[] {
    return [...this];
  }

  /** JSON.stringify of a report gives its flows as the array of judged records they were before. */
  toJSON(): JudgedFlow[] {
    return this.toArray();
  }

  map<T>(fn: (f: JudgedFlow, i: number) => T): T[] {
    const out: T[] = new Array(this.columns.n);
    for (let i = 0; i < this.columns.n; i++) out[i] = fn(this.at(i)!, i);
    return out;
  }

  filter(pred: (f: JudgedFlow) => boolean): JudgedFlow[] {
    const out: JudgedFlow[] = [];
    for (const f of this) if (pred(f)) out.push(f);
    return out;
  }

  find(pred: (f: JudgedFlow) => boolean): JudgedFlow | undefined {
    for (const f of this) if (pred(f)) return f;
    return undefined;
  }

  some(pred: (f: JudgedFlow) => boolean): boolean {
    return this.find(pred) !== undefined;
  }

  every(pred: (f: JudgedFlow) => boolean): boolean {
    for (const f of this) if (!pred(f)) return false;
    return true;
  }

  /**
   * The `flows` array of the JSON report as byte chunks of lines: from the columns' source where it
   * writes lines itself (the flow table), each judgement's text made once and copied; otherwise from
   * the judged records (`lineChunks`, the records' writer).
   */
  jsonChunks(lineChunks: (flows: Iterable<JudgedFlow>) => Iterable<Buffer>, chunkBytes = 1 << 20): Iterable<Buffer> {
    const line = this.columns.line;
    if (line === undefined) return lineChunks(this);
    return encodeLines(new JudgedLines(this, line), chunkBytes);
  }
}

/**
 * The judged lists' cursor over the byte encoder: a flow's line as its source writes it (sides
 * exchanged where the judgement says so), then its judgement's text (made once per judgement), its
 * waiver, the closing brace.
 */
class JudgedLines implements LineCursor {
  readonly lines: number;
  private readonly texts: Array<Uint8Array | undefined>;
  private tail: Uint8Array = EMPTY;
  private waived: Uint8Array | null = null;

  constructor(
    private readonly flows: JudgedFlows,
    private readonly line: NonNullable<FlowColumns['line']>,
  ) {
    this.lines = flows.length;
    this.texts = new Array(flows.judgements.length);
  }

  room(i: number): number {
    const ji = this.flows.of[i]!;
    let tail = this.texts[ji];
    if (tail === undefined) this.texts[ji] = tail = judgementText(this.flows.judgements[ji]!);
    this.tail = tail;
    const w = this.flows.waiver(i);
    this.waived = w === undefined ? null : Buffer.from(`,"waived":${JSON.stringify(w)}`);
    // A flow's own fields take under LINE_ROOM bytes; its judgement's text is its own size.
    return LINE_ROOM + tail.length + (this.waived?.length ?? 0) + 1;
  }

  write(b: Buffer, p: number, i: number): number {
    p = this.line(b, p, i, this.flows.judgement(i).swapped);
    b.set(this.tail, p);
    p += this.tail.length;
    if (this.waived !== null) {
      b.set(this.waived, p);
      p += this.waived.length;
    }
    b[p++] = 0x7d; // }
    return p;
  }
}

const EMPTY = new Uint8Array(0);
