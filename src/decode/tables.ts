import type { Decoder } from './view.js';

/**
 * The "what comes next" tables. They are filled in one place, ./index.ts, so that a reader sees the
 * whole decoding chain at a glance and adding a protocol is one file and one row.
 */
export const byLinkType = new Map<number, Decoder>();
export const byEthertype = new Map<number, Decoder>();
export const byIpProto = new Map<number, Decoder>();
/** UDP ports that carry a tunnel whose inner packet we follow (VXLAN, Geneve, Teredo). */
export const byUdpPort = new Map<number, Decoder>();

export function dispatchEthertype(type: number, buf: Buffer, off: number, end: number, v: import('./view.js').PacketView): void {
  if (++v.hops > 64) return v.fail('encapsulation-too-deep');
  const next = byEthertype.get(type);
  if (next === undefined) v.notIp(type);
  else next(buf, off, end, v);
}
