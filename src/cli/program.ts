/** The flowaudit command line: its commands (`buildProgram`) and one run of it (`main`), without the process entry (main.ts). */
import { Command, CommanderError, Option } from 'commander';
import { InputError, LocatedInputError } from '../core/errors.js';
import { flowBatches, summarise } from '../flow/pipeline.js';
import { buildFlowsSharded } from '../worker/sharded.js';
import { terminalSafe } from '../report/escape.js';
import { flowLineChunks } from '../report/json-lines.js';
import { formatNames, writerFor } from '../report/formats.js';
import { registerAnalyze, registerCollect, registerFirewall, registerLive } from './commands.js';
import { checkOutputs, EXIT_UNWRITABLE, guardStandardOutput, OutputError, reportPaths, stopOnSignals, writeReport } from './output.js';
import { progressFor } from './progress.js';
import { MAX_FLOWS_DEFAULT, MAX_FLOWS_FLAG, MAX_FLOWS_HELP, parseMaxFlows, parseWorkers, WORKERS_FLAG, WORKERS_HELP } from './workers.js';

/** Exit codes: 0 done, 2 unusable input or arguments or a report that could not be written (1 is kept for "findings matched --fail-on"), 70 a bug. */
export const EXIT_OK = 0;
export const EXIT_INPUT = 2;
export const EXIT_INTERNAL = 70;

/** `setExit(1)`: a command's findings matched --fail-on. */
export function buildProgram(setExit: (code: number) => void = () => {}): Command {
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
    .addOption(new Option('--format <format>', 'output format').choices(formatNames('flows')).default('text'))
    .option('--out <file>', 'write to a file instead of standard output')
    .option('--vlan-key', 'keep flows on different VLANs apart (off: a tag seen one way must not split a flow)', false)
    .option(WORKERS_FLAG, WORKERS_HELP, 'auto')
    .option(MAX_FLOWS_FLAG, MAX_FLOWS_HELP, MAX_FLOWS_DEFAULT)
    .action(async (captures: string[], opts: { format: string; out?: string; vlanKey: boolean; workers: string; maxFlows: string }) => {
      if (captures.filter((c) => c === '-').length > 1) throw new InputError('standard input (-) can be read only once');
      const maxFlows = parseMaxFlows(opts.maxFlows);
      const writer = writerFor('flows', opts.format);
      checkOutputs(reportPaths(writer, opts.out), captures);
      stopOnSignals();
      const progress = progressFor(captures);
      const run = await buildFlowsSharded(captures, { vlanInKey: opts.vlanKey, workers: parseWorkers(opts.workers), maxFlows, ...(progress.onProgress ? { onProgress: progress.onProgress } : {}) }).finally(progress.stop);
      const capture = summarise(run);
      const flows = flowBatches(run);
      // Past --max-flows the table holds only part of the flows: the JSON lines come from the records then.
      const jsonChunks = () => (capture.flowTable !== undefined ? flowLineChunks(flows.batches()) : run.table.jsonChunks());
      await writeReport(writer, { capture, flows, jsonChunks }, opts.out);
    });
  registerAnalyze(program, '0.1.0', setExit);
  registerLive(program, '0.1.0', setExit);
  registerCollect(program, '0.1.0', setExit);
  registerFirewall(program, '0.1.0');
  program.addHelpText('after', PROGRAM_HELP);
  for (const c of program.commands) {
    const examples = EXAMPLES[c.name()];
    if (examples) c.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n${EXIT_HELP}`);
  }

  const catalog = program.command('catalog').description('the port catalogs: list them, show one, or lint your own');
  catalog
    .command('list')
    .description('bundled catalogs with their rule counts')
    .addOption(new Option('--format <format>', 'output format').choices(formatNames('catalogList')).default('text'))
    .action(async (opts: { format: string }) => {
      const { bundledCatalogIds, loadCatalog } = await import('../catalog/index.js');
      const rows = bundledCatalogIds().map((id) => {
        const c = loadCatalog(id);
        return { id: c.id, name: c.name, rules: c.rules.length, requirements: c.requirements.length, documents: c.documents.length };
      });
      await writeReport(writerFor('catalogList', opts.format), rows, undefined);
    });
  catalog
    .command('show')
    .description('every rule of a catalog, with the vendor\'s words')
    .argument('<catalog>', 'a bundled catalog id, or a path to a catalog file')
    .addOption(new Option('--format <format>', 'output format').choices(formatNames('catalogShow')).default('text'))
    .option('--set <name=value...>', 'override a parameter (e.g. --set agent-port=443)')
    .action(async (ref: string, opts: { format: string; set?: string[] }) => {
      const { checkOverrides, loadCatalog } = await import('../catalog/index.js');
      const { parseSets } = await import('./analyze.js');
      const set = parseSets(opts.set ?? []);
      const c0 = loadCatalog(ref);
      checkOverrides([c0], set);
      const c = loadCatalog(ref, { set });
      await writeReport(writerFor('catalogShow', opts.format), c, undefined);
    });
  catalog
    .command('lint')
    .description('validate a catalog file; errors as file:line:col: message, exit 2')
    .argument('<file...>', 'catalog files (or bundled ids)')
    .action(async (files: string[]) => {
      const { loadCatalog } = await import('../catalog/index.js');
      let bad = 0;
      for (const f of files) {
        try {
          const c = loadCatalog(f);
          process.stdout.write(`${c.file}: ok — ${c.rules.length} rules, ${c.requirements.length} requirements, ${c.roles.length} roles, ${Object.keys(c.params).length} parameters\n`);
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          process.stderr.write(`${e.message}\n`);
          bad++;
        }
      }
      if (bad > 0) throw new LintFailed(`${bad} catalog file(s) with problems`);
    });
  return program;
}

/** What `--help` shows after a command's options: a few real invocations (the bundled samples work as they are). */
const EXAMPLES: Record<string, string[]> = {
  flows: ['flowaudit flows capture.pcapng', 'flowaudit flows --format csv --out flows.csv day1.pcap.gz day2.pcap.gz', 'tcpdump -i eth1 -w - | flowaudit flows -'],
  analyze: [
    'flowaudit analyze samples/bmc-cm-site.pcapng --catalog bmc-cm --roles samples/bmc-cm-roles.yaml',
    'flowaudit analyze site.pcapng --catalog itms8 --roles roles.yaml --format html --out report.html',
    'flowaudit analyze site.pcapng --catalog sccm2007 --format csv --table requirements',
    'flowaudit analyze site.pcapng --catalog bmc-cm --set tunnel-port=443 --fail-on missing,failing',
    'flowaudit analyze --sensor core-span=pcap:core.pcapng --sensor dc-zeek=zeek:/var/log/zeek/ --catalog bmc-cm',
  ],
  firewall: [
    'flowaudit firewall samples/sccm2007-site.pcapng --catalog sccm2007 --roles samples/sccm2007-roles.yaml',
    'flowaudit firewall site.pcapng --catalog bmc-cm --roles roles.yaml --zones zones.yaml --format nft --out site.nft',
    'flowaudit firewall after.pcapng --catalog bmc-cm --roles roles.yaml --baseline before.json',
  ],
  live: ['flowaudit live --list-interfaces', 'flowaudit live -i eth1 --catalog bmc-cm --roles roles.yaml --report-every 5m --duration 1h --write span.pcapng'],
  collect: ['flowaudit collect --listen udp:9995 --catalog sccm2007 --roles roles.yaml --report-every 5m --format json --out site.json'],
};

const EXIT_HELP = `
Exit codes:
  0    done (damage inside a capture is reported, not an error)
  1    analyze, live, collect: findings of a kind named by --fail-on remain
  2    unusable input or arguments, or the report could not be written (one line on stderr)
  70   internal error (a bug: please report it with the capture)
  130  stopped by SIGINT (143: SIGTERM); no report written
`;

const PROGRAM_HELP = `
Start with:
  flowaudit catalog list
  flowaudit analyze samples/bmc-cm-site.pcapng --catalog bmc-cm --roles samples/bmc-cm-roles.yaml
${EXIT_HELP}`;

/** Lint found problems: they are already printed; exit 2 without another message. */
class LintFailed extends Error {}


export async function main(argv: string[]): Promise<number> {
  guardStandardOutput();
  let exit: number = EXIT_OK;
  try {
    await buildProgram((code) => {
      exit = code;
    }).parseAsync(argv);
    return exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; everything else commander rejects is a usage error.
      return e.exitCode === 0 ? EXIT_OK : EXIT_INPUT;
    }
    if (e instanceof LintFailed) return EXIT_INPUT;
    // Messages name files and inputs: no control character of theirs reaches the terminal, line by line.
    const safe = (m: string) => m.split('\n').map(terminalSafe).join('\n');
    if (e instanceof OutputError) {
      process.stderr.write(`flowaudit: ${safe(e.message)}\n`);
      return EXIT_UNWRITABLE;
    }
    if (e instanceof LocatedInputError) {
      process.stderr.write(`${safe(e.message)}\n`);
      return EXIT_INPUT;
    }
    if (e instanceof InputError) {
      process.stderr.write(`flowaudit: ${safe(e.message)}\n`);
      return EXIT_INPUT;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code !== undefined && err.syscall !== undefined) {
      process.stderr.write(`flowaudit: ${safe(`${err.path ? `${err.path}: ` : ''}${err.message}`)}\n`);
      return EXIT_INPUT;
    }
    return internalError(e);
  }
}

/** A bug: one line with where it happened (the first frame of the stack), exit 70. */
export function internalError(e: unknown): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const at = /\n\s+at (?:.*? \()?(.*?:\d+:\d+)\)?/.exec(err.stack ?? '')?.[1];
  process.stderr.write(`flowaudit: internal error: ${err.message}${at ? ` (at ${at})` : ''}; please report it with the capture\n`);
  return EXIT_INTERNAL;
}
