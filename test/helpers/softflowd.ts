/**
 * Debian's softflowd, the real exporter of the flow-export tests: it reads a capture (`-r`) and
 * exports its flows as IPFIX (`-v 10`), NetFlow v9 or v5 over UDP to 127.0.0.1. Under CI=true a
 * missing softflowd (or another peer named to skipWithout) fails the run; elsewhere the tests skip.
 *
 *   const datagrams = await softflowd(file, '10', ['-a']);      // into a socket of ours
 *   await softflowdTo(file, port, '10', ['-a']);                // into someone else's (collect, nfcapd)
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function has(command: string, arg: string): boolean {
  const r = spawnSync(command, [arg], { stdio: 'ignore', timeout: 30_000 });
  return r.error === undefined;
}

/** True when `command` is not on PATH (warned once); throws instead under CI=true. */
export function skipWithout(command: string, what: string): boolean {
  if (has(command, '-h')) return false;
  if (process.env.CI === 'true') throw new Error(`${what}: ${command} not found on PATH (apt-get install ${command}); CI=true requires it`);
  console.warn(`[flowaudit tests] ${what} skipped: ${command} not found`);
  return true;
}

/**
 * softflowd reading `file` and exporting to 127.0.0.1:`port`, to its end. `-c none`: with a control
 * socket, softflowd 1.1.0 reading a file blocks in accept().
 */
export function softflowdTo(file: string, port: number, version: string, extra: string[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const pid = join(mkdtempSync(join(tmpdir(), 'softflowd-')), 'pid');
    const child = spawn('softflowd', ['-r', file, '-n', `127.0.0.1:${port}`, '-v', version, '-d', '-c', 'none', '-p', pid, ...extra], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`softflowd -r ${file} -v ${version} exited ${code}`));
      else resolve();
    });
  });
}

/** softflowd reading `file` and exporting to a UDP socket of ours on 127.0.0.1; resolves with the datagrams. */
export function softflowd(file: string, version: string, extra: string[] = []): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const got: Buffer[] = [];
    socket.on('message', (m) => got.push(m));
    socket.bind(0, '127.0.0.1', () => {
      softflowdTo(file, socket.address().port, version, extra).then(
        // The last datagrams may still be on their way through the loopback.
        () => setTimeout(() => {
          socket.close();
          resolve(got);
        }, 300),
        (e: unknown) => {
          socket.close();
          reject(e);
        },
      );
    });
  });
}

/** A free UDP port on 127.0.0.1, for a peer that binds its own socket (nfcapd, flowaudit collect). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}
