/**
 * A scratch folder for a test file: role maps, catalogs and waivers written as text, and captures
 * laid out from conversations with the project's own writer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcap } from '../../src/capture/writer.js';
import { frame, type PacketSpec } from '../../src/synth/frames.js';

export const T0 = 1_732_000_000;

export interface Scratch {
  dir: string;
  /** Writes a file of the folder and returns its path. */
  write(name: string, content: string | Uint8Array): string;
  /**
   * A pcap of the conversations laid end to end, packets 10 ms apart from T0; with `span`, one last
   * packet (`quiet`, by default between two hosts nothing else names) `span` seconds after T0 sets
   * how long the capture goes on.
   */
  capture(conversations: PacketSpec[][], opts?: { span?: number; quiet?: PacketSpec }): string;
}

export function scratch(prefix: string): Scratch {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  const write = (name: string, content: string | Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const capture = (conversations: PacketSpec[][], opts: { span?: number; quiet?: PacketSpec } = {}) => {
    const packets = conversations.flat().map((spec, i) => ({ data: frame(spec), tsSec: T0 + Math.floor(i / 100), tsNs: (i % 100) * 10_000_000 }));
    if (opts.span) packets.push({ data: frame(opts.quiet ?? { proto: 'udp', src: '10.99.0.1', dst: '10.99.0.2', srcPort: 50000, dstPort: 50001, payload: 40 }), tsSec: T0 + opts.span, tsNs: 0 });
    return write(`c${n++}.pcap`, writePcap(packets, { linkType: 1 }));
  };
  return { dir, write, capture };
}
