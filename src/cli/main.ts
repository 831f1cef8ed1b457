#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { InputError } from '../core/errors.js';
import { buildFlows, summarise } from '../flow/pipeline.js';
import { flowsJson, flowsText, writeFlowsCsv } from '../report/flows.js';

/** Exit codes: 0 done, 2 unusable input or arguments (1 is kept for "findings matched --fail-on"). */
export const EXIT_OK = 0;
export const EXIT_INPUT = 2;

function openOut(path: string | undefined): Writable {
  return path === undefined || path === '-' ? process.stdout : createWriteStream(path);
}

async function writeAndClose(out: Writable, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    if (out === process.stdout) out.write(text, () => resolve());
    else out.end(text, () => resolve());
  });
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('flowaudit')
    .description('Packet-capture compliance analyzer: the flows in a capture, judged against vendor port catalogs')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('flows')
    .description('the flow table of one or more captures (pcap, pcapng, gzip; - for stdin), like a conversation list')
    .argument('<capture...>', 'capture files, or - for standard input')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'csv']).default('text'))
    .option('--out <file>', 'write to a file instead of standard output')
    .option('--vlan-key', 'keep flows on different VLANs apart (off: a tag seen one way must not split a flow)', false)
    .action(async (captures: string[], opts: { format: string; out?: string; vlanKey: boolean }) => {
      if (captures.filter((c) => c === '-').length > 1) throw new InputError('standard input (-) can be read only once');
      const run = await buildFlows(captures, { vlanInKey: opts.vlanKey });
      const flows = run.table.export();
      const capture = summarise(run);
      const out = openOut(opts.out);
      if (opts.format === 'json') await writeAndClose(out, flowsJson(capture, flows));
      else if (opts.format === 'csv') {
        await writeFlowsCsv(flows, out);
        if (out !== process.stdout) await new Promise<void>((r) => out.end(() => r()));
      } else await writeAndClose(out, flowsText(capture, flows));
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK);
  });
  try {
    await buildProgram().parseAsync(argv);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; everything else commander rejects is a usage error.
      return e.exitCode === 0 ? EXIT_OK : EXIT_INPUT;
    }
    if (e instanceof InputError) {
      process.stderr.write(`flowaudit: ${e.message}\n`);
      return EXIT_INPUT;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code !== undefined && err.syscall !== undefined) {
      process.stderr.write(`flowaudit: ${err.path ?? ''}: ${err.message}\n`);
      return EXIT_INPUT;
    }
    process.stderr.write(`flowaudit: internal error: ${err.message}\n${err.stack ?? ''}\n`);
    return 70;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
