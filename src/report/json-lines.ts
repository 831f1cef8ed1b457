import { JUDGED_FIELDS, judgementText } from '../audit/judged-fields.js';
import type { JudgedFlow } from '../audit/types.js';
import { ascii, key, num, str } from '../core/json-bytes.js';
import { JSON_FIELDS, jsonKey } from '../flow/fields.js';
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
  /** Per field, the JSON text of a 'json' field of the flow being written. */
  private readonly texts: string[] = [];

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

  /** The record's fields (flow/fields.ts JSON_FIELDS), without the closing brace. */
  private open(f: FlowRecord): void {
    // Room for the worst case, so the writers below need no checks: keys and numbers take under
    // 700 bytes, a string at most 6 bytes a character (escaped), other values their JSON.
    const texts = this.texts;
    let need = 1024;
    for (let i = 0; i < FIELDS.length; i++) {
      const v = f[FIELDS[i]!.name];
      const kind = KINDS[i];
      if (kind === 'string' && typeof v === 'string') need += 6 * v.length;
      else if (kind === 'json' && v !== undefined) need += 3 * (texts[i] = JSON.stringify(v)).length;
    }
    this.room(need);
    const b = this.buf;
    let p = this.pos;
    if (this.lines++ > 0) b[p++] = 0x2c; // ,
    for (let i = 0; i < FIELDS.length; i++) {
      const v = f[FIELDS[i]!.name];
      if (v === undefined) continue;
      p = key(b, p, KEYS[i]!);
      if (v === null) p = key(b, p, J_NULL);
      else if (KINDS[i] === 'number') p = num(b, p, v as number);
      else if (KINDS[i] === 'string') p = str(b, p, v as string);
      else p += b.write(texts[i]!, p);
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
    const t: Tail = { parts: JUDGED_FIELDS.map((k) => f[k]), text: judgementText(f) };
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

const FIELDS = JSON_FIELDS;
const KINDS = FIELDS.map((f) => f.json);
const KEYS = FIELDS.map((f) => jsonKey(f.name));
const J_NULL = ascii('null');

interface Tail {
  /** The judged fields' values it was made from, in JUDGED_FIELDS order. */
  parts: unknown[];
  text: Buffer;
}

/** Whether a tail was made from this flow's judged fields (the same objects, not equal ones). */
function sameTail(t: Tail, f: JudgedFlow): boolean {
  for (let i = 0; i < JUDGED_FIELDS.length; i++) if (t.parts[i] !== f[JUDGED_FIELDS[i]!]) return false;
  return true;
}
