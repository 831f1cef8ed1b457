/**
 * Bytes per flow: `npx tsx bench/memory-per-flow.ts [--flows 1000000]` (run with --expose-gc through
 * `node --expose-gc --import tsx bench/memory-per-flow.ts`). Reads a SYN scan of that many one-packet
 * flows (bench/scan.ts) without a bound, then judges it under bmc-cm, and prints what the flow table
 * (typed arrays: off the V8 heap) and the audit's columns and judgements (heap and arrays) hold per flow.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { audit } from '../src/audit/index.js';
import { loadCatalog } from '../src/catalog/index.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { generateScan } from './scan.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '1000000' } } });
const n = Number(values.flows);
const out = join(dirname(fileURLToPath(import.meta.url)), 'out');
mkdirSync(out, { recursive: true });
const file = join(out, `scan-${n}.pcap`);
if (!existsSync(file)) generateScan({ out: file, flows: n });

const gc = (globalThis as { gc?: () => void }).gc;
const used = () => {
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, arrays: m.arrayBuffers, rss: m.rss };
};
const catalog = loadCatalog('bmc-cm');
const before = used();
const run = await buildFlows([file]);
const table = used();
const report = audit(run, { catalogs: [catalog], roleMap: null, grants: [], version: 'bench' });
const judged = used();
const per = (a: number, b: number) => ((a - b) / n).toFixed(0);
console.log(`${n} flows (${run.table.size} in the table)${gc ? '' : ' — without --expose-gc the numbers include garbage'}`);
console.log(`  flow table: ${per(table.arrays, before.arrays)} B/flow in typed arrays, ${per(table.heap, before.heap)} B/flow on the heap; RSS ${per(table.rss, before.rss)} B/flow`);
console.log(`  audit (columns, hosts, judgements): ${per(judged.arrays, table.arrays)} B/flow in typed arrays, ${per(judged.heap, table.heap)} B/flow on the heap; RSS ${per(judged.rss, table.rss)} B/flow`);
console.log(`  judged flows: ${report.summary.flows}`);
