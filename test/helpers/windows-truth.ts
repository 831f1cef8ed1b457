/**
 * The truth files beside the real Windows captures (`windows/README.md` of the shared corpus): what
 * each capture must yield, checked frame by frame. One place for their shapes and for reading them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capturesDir } from './captures.js';

/** One granted tower of one ept_map reply, and what followed it. */
export interface EpmTruth {
  file: string;
  requester: string;
  responder: string;
  granted_ip: string;
  port: number;
  granted_at_frame: number;
  request_frame: number;
  num_towers: number;
  tower_index: number;
  interface: string;
  followup: 'established' | 'attempted' | 'rejected' | 'none';
  verdict: 'ok' | 'failing' | 'not-required' | 'missing';
  evidence: string;
}

/** A port learned from a DCOM string binding. */
export interface DcomTruth {
  file: string;
  requester: string;
  responder: string;
  port: number;
  granted_at_frame: number;
  followup: string;
}

/** One TFTP read or write request and how it went. */
export interface TftpTruth {
  file: string;
  request_frame: number;
  client: string;
  client_port: number;
  server: string;
  outcome: 'completed' | 'error' | 'incomplete' | 'no-response';
}

/** A TCP retransmission of an ept_map reply. */
export interface Retransmitted {
  frame: number;
  src: string;
  dst: string;
}

/** The `windows` folder of the corpus, or '' when the corpus is missing (the skip helpers decide what that means). */
export function windowsDir(): string {
  const root = capturesDir();
  return root === null ? '' : join(root, 'windows');
}

/** A truth file of the windows folder, parsed. */
export function windowsTruth<T>(name: 'epm-truth.json' | 'dcom-truth.json' | 'tftp-truth.json' | 'epm-retransmitted-replies.json' | 'epm-failed-lookups.json'): T {
  return JSON.parse(readFileSync(join(windowsDir(), name), 'utf8')) as T;
}
