import type { Decoder } from './view.js';

/**
 * A table from a small number (link type, ethertype, protocol, port) to its decoder, as a dense array:
 * one indexed load per header instead of a Map lookup, on the path every packet takes.
 */
export class DecoderTable {
  private readonly slots: Array<Decoder | undefined>;
  constructor(readonly size: number) {
    this.slots = new Array<Decoder | undefined>(size).fill(undefined);
  }
  set(key: number, d: Decoder): void {
    if (!Number.isInteger(key) || key < 0 || key >= this.size) throw new RangeError(`decoder table key ${key} out of range`);
    this.slots[key] = d;
  }
  get(key: number): Decoder | undefined {
    return key >= 0 && key < this.size ? this.slots[key] : undefined;
  }
  has(key: number): boolean {
    return this.get(key) !== undefined;
  }
}

/**
 * The "what comes next" tables. They are filled in one place, ./index.ts, so that a reader sees the
 * whole decoding chain at a glance and adding a protocol is one file and one row. Link types are 16
 * bits in pcap and pcapng; ethertypes and UDP ports 16 bits; IP protocols 8.
 */
export const byLinkType = new DecoderTable(65536);
export const byEthertype = new DecoderTable(65536);
export const byIpProto = new DecoderTable(256);
/** UDP ports that carry a tunnel whose inner packet we follow (VXLAN, Geneve, Teredo). */
export const byUdpPort = new DecoderTable(65536);

export function dispatchEthertype(type: number, buf: Buffer, off: number, end: number, v: import('./view.js').PacketView): void {
  if (++v.hops > 64) return v.fail('encapsulation-too-deep');
  const next = byEthertype.get(type);
  if (next === undefined) v.notIp(type);
  else next(buf, off, end, v);
}
