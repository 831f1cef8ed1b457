/**
 * flowaudit's flows sent to an IPFIX collector over UDP (`live --export ipfix://HOST:PORT`): the
 * target parsed and resolved once at the start (errors are one line), the flows encoded by
 * ingest/ipfix/encode.ts, each message one datagram. The socket is connected, so the collector's
 * host refusing the port (ICMP port unreachable) shows as a send error; send errors are counted,
 * never fatal: a sensor keeps auditing while its collector is away.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { InputError } from '../core/errors.js';
import type { FlowRecord } from '../flow/record.js';
import { IpfixEncoder } from '../ingest/ipfix/encode.js';

/** IANA's port for IPFIX (RFC 7011 §10.3.4), when the URL names none. */
export const IPFIX_PORT = 4739;

export interface ExportTarget {
  /** The URL as given. */
  url: string;
  host: string;
  /** The address the host resolved to, and its family. */
  address: string;
  family: 4 | 6;
  port: number;
}

/** What the reports say of the export: JSON `live.export`. */
export interface ExportSection {
  url: string;
  /** udp:ADDRESS:PORT as resolved. */
  target: string;
  messages: number;
  records: number;
  bytes: number;
  /** Datagrams the system could not send (the last error's code in `lastError`). */
  sendErrors: number;
  lastError: string | null;
  /** Flows not encodable (an address of no family): counted, not sent. */
  unencodable: number;
}

const USAGE = 'expected ipfix://HOST:PORT (IPFIX over UDP; PORT defaults to 4739)';

/** `ipfix://HOST[:PORT]` → its host and port, the host resolved; a bad URL or a host that does not resolve is an InputError of one line. */
export async function resolveExportTarget(text: string): Promise<ExportTarget> {
  const bad = (why: string) => new InputError(`--export ${text}: ${why}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad(USAGE);
  }
  if (url.protocol !== 'ipfix:' || url.hostname === '' || url.username || url.password || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) throw bad(USAGE);
  const port = url.port === '' ? IPFIX_PORT : Number(url.port);
  if (!(port >= 1 && port <= 65535)) throw bad(`port ${url.port}: expected 1 to 65535`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) return { url: text, host, address: host, family: isIP(host) === 6 ? 6 : 4, port };
  try {
    const found = await lookup(host);
    return { url: text, host, address: found.address, family: found.family === 6 ? 6 : 4, port };
  } catch (e) {
    throw bad(`cannot resolve ${host} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export class IpfixUdpExporter {
  private readonly encoder: IpfixEncoder;
  private inFlight = 0;
  private sendErrors = 0;
  private lastError: string | null = null;
  private drained: (() => void) | null = null;

  private constructor(
    readonly target: ExportTarget,
    private readonly socket: Socket,
  ) {
    this.encoder = new IpfixEncoder({ onMessage: (m) => this.send(m) });
  }

  /** A connected socket to the collector of `url` (see resolveExportTarget for the errors). */
  static async open(url: string): Promise<IpfixUdpExporter> {
    const target = await resolveExportTarget(url);
    const socket = createSocket(target.family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(target.port, target.address, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    }).catch((e: NodeJS.ErrnoException) => {
      socket.close();
      throw new InputError(`--export ${url}: cannot send to ${target.address} port ${target.port} (${e.code ?? e.message})`);
    });
    const exporter = new IpfixUdpExporter(target, socket);
    // Errors after the start (an ICMP refusal reported on a later send) are counted, never thrown.
    socket.on('error', (e: NodeJS.ErrnoException) => exporter.failed(e));
    // The live session's timers decide when the process ends, never this socket.
    socket.unref();
    return exporter;
  }

  /** One flow; a full message is sent at once, the rest at flush(). */
  add(f: FlowRecord): void {
    this.encoder.add(f);
  }

  /** Sends what waits in the message being made (live calls it at each housekeeping). */
  flush(): void {
    this.encoder.flush();
  }

  /** Flushes, waits for the datagrams handed to the system, and closes the socket. */
  async close(): Promise<void> {
    this.flush();
    if (this.inFlight > 0) await new Promise<void>((r) => (this.drained = r));
    await new Promise<void>((r) => this.socket.close(() => r()));
  }

  section(): ExportSection {
    const s = this.encoder.stats;
    const t = this.target;
    return {
      url: t.url, target: `udp:${t.family === 6 ? `[${t.address}]` : t.address}:${t.port}`, messages: s.messages, records: s.records, bytes: s.bytes,
      sendErrors: this.sendErrors, lastError: this.lastError, unencodable: s.unencodable,
    };
  }

  private send(m: Uint8Array): void {
    this.inFlight++;
    this.socket.send(m, (e) => {
      if (e) this.failed(e as NodeJS.ErrnoException);
      if (--this.inFlight === 0 && this.drained) this.drained();
    });
  }

  private failed(e: NodeJS.ErrnoException): void {
    this.sendErrors++;
    this.lastError = e.code ?? e.message;
  }
}
