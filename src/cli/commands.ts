import { Command, Option } from 'commander';
import type { AnalyzeOptions } from './analyze.js';
import type { CollectCliOptions } from './collect.js';
import type { LiveCliOptions } from './live.js';
import type { FirewallOptions } from './firewall.js';
import { formatNames, tableNames } from '../report/formats.js';
import { INPUT_DEFAULT, INPUT_KINDS, inputPathsHelp } from './inputs.js';
import { addReportOptions } from './report-options.js';
import { MAX_FLOWS_DEFAULT, MAX_FLOWS_FLAG, MAX_FLOWS_HELP, MIN_SPAN_DEFAULT_TEXT, MIN_SPAN_FLAG, MIN_SPAN_HELP, SENSOR_FLAG, SENSOR_HELP, SENSOR_SLACK_DEFAULT_TEXT, SENSOR_SLACK_FLAG, SENSOR_SLACK_HELP, WORKERS_FLAG, WORKERS_HELP } from './workers.js';

/*
 * The commands' options, without what runs them: `analyze` and `live` load their modules (the audit,
 * the catalogs with their schema, libpcap's binding) only when they run, so `flows` starts sooner.
 */

const FAIL_ON_KINDS = 'missing,failing,undocumented,role-mismatch';

const SITE_HELP = "the site's own prefixes besides RFC 1918, 100.64/10, fc00::/7 and link-local (PREFIX[,PREFIX…], repeatable): their hosts are not external";
const BACKGROUND_HELP = "the background catalog judged beside the product catalogs (DNS, Kerberos, ICMP…): a site's own file instead of the bundled one";
const NO_BACKGROUND_HELP = 'no background catalog: infrastructure traffic no product rule documents stays undocumented';
const NO_INFER_HELP = 'without a role map, learn no roles from traffic: judge flows by port and address class alone';

const TABLE_HELP = (command: 'analyze' | 'live') => `csv is one table a stream: which one (${tableNames(command).join(', ')}; default flows)`;

/** `--site a,b --site c` → ['a', 'b', 'c'] (checked when the audit's inputs are loaded). */
function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim())];
}

/** `--sensor a=x --sensor b=y` → ['a=x', 'b=y'] (a path may hold commas). */
function collectSensors(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Registers `flowaudit analyze`; `setExit(1)` when --fail-on matched. */
export function registerAnalyze(program: Command, version: string, setExit: (code: number) => void): void {
  const analyze = program
    .command('analyze')
    .description('judge every flow of the captures against vendor port catalogs, and check the required flows')
    .argument('[capture...]', `what --input reads: ${inputPathsHelp()}`)
    .addOption(new Option('--input <kind>', 'what the paths hold').choices(INPUT_KINDS.map((k) => k.name)).default(INPUT_DEFAULT))
    .option(SENSOR_FLAG, SENSOR_HELP, collectSensors)
    .option(SENSOR_SLACK_FLAG, SENSOR_SLACK_HELP, SENSOR_SLACK_DEFAULT_TEXT)
    .requiredOption('--catalog <id|file...>', 'catalog id (see `catalog list`) or catalog file; repeatable')
    .option('--roles <file>', 'role map: which hosts play which role (YAML)')
    .option('--site <prefixes>', SITE_HELP, collectList)
    .option('--no-infer', NO_INFER_HELP)
    .option(MIN_SPAN_FLAG, MIN_SPAN_HELP, MIN_SPAN_DEFAULT_TEXT)
    .option('--background <id|file>', BACKGROUND_HELP)
    .option('--no-background', NO_BACKGROUND_HELP)
    .option('--waivers <file>', 'accepted exceptions with reasons and expiry dates (YAML)')
    .addOption(new Option('--format <format>', 'report format').choices(formatNames('analyze')).default('text'))
    .option('--out <file>', 'write the report to a file (csv: the flows to FILE and the requirements to FILE.requirements.csv, unless --table)')
    .option('--table <name>', TABLE_HELP('analyze'))
    .option('--set <name=value...>', 'override a catalog parameter, e.g. --set tunnel-port=443')
    .option('--fail-on <list>', `exit 1 when findings of these kinds remain unwaived: ${FAIL_ON_KINDS}`)
    .option('--vlan-key', 'keep flows on different VLANs apart', false)
    .option('--explain <rule|host>', 'instead of the report: the rule (catalog:id or id) or host, and every flow, grant and finding that bears on it, with frames and tshark filters')
    .option(WORKERS_FLAG, WORKERS_HELP, 'auto')
    .option(MAX_FLOWS_FLAG, MAX_FLOWS_HELP, MAX_FLOWS_DEFAULT);
  addReportOptions(analyze).action(async (captures: string[], opts: AnalyzeOptions) => {
      const { runAnalyze } = await import('./analyze.js');
      await runAnalyze(captures, opts, version, setExit);
    });
}

/** Registers `flowaudit live`; `setExit(1)` when --fail-on matched in the final report. */
export function registerLive(program: Command, version: string, setExit: (code: number) => void): void {
  const live = program
    .command('live')
    .description('capture on an interface (a SPAN port) and judge the flows as they happen, with a report every tick and a final one')
    .option('-i, --interface <name>', 'the interface to capture on (see --list-interfaces)')
    .option('--list-interfaces', 'list the interfaces libpcap can capture on, and exit')
    .option('--catalog <id|file...>', 'catalog id (see `catalog list`) or catalog file; repeatable')
    .option('--roles <file>', 'role map: which hosts play which role (YAML)')
    .option('--site <prefixes>', SITE_HELP, collectList)
    .option('--no-infer', NO_INFER_HELP)
    .option(MIN_SPAN_FLAG, MIN_SPAN_HELP, MIN_SPAN_DEFAULT_TEXT)
    .option('--background <id|file>', BACKGROUND_HELP)
    .option('--no-background', NO_BACKGROUND_HELP)
    .option('--waivers <file>', 'accepted exceptions with reasons and expiry dates (YAML)')
    .option('--set <name=value...>', 'override a catalog parameter, e.g. --set tunnel-port=443')
    .option('--bpf <expression>', 'capture filter (libpcap syntax), e.g. "not port 22"')
    .option('--snaplen <bytes>', 'bytes of each packet kept; the payload inspectors need the whole packet', '65535')
    .option('--buffer-size <bytes>', "libpcap's kernel buffer: bytes, or with k (KiB) or M (MiB)", '64M')
    .option('--report-every <duration>', 'a report every interval (e.g. 30s, 10m)', '60s')
    .option('--duration <duration>', 'stop after this long and write the final report (default: until Ctrl-C or SIGTERM)')
    .addOption(new Option('--format <format>', 'report format').choices(formatNames('live')).default('text'))
    .option('--out <file>', 'rewrite this file (atomically) at every report instead of writing to standard output')
    .option('--table <name>', TABLE_HELP('live'))
    .option('--write <file.pcapng>', 'also keep every captured packet as pcapng, for a later flowaudit analyze')
    .option('--export <ipfix://host:port>', 'send every flow as it leaves the flow table (and the open ones at the end) to an IPFIX collector over UDP')
    .option('--fail-on <list>', 'exit 1 when the final report has findings of these kinds: missing,failing,undocumented,role-mismatch')
    .option('--vlan-key', 'keep flows on different VLANs apart', false)
    .option('--idle-timeout <duration>', 'a UDP/ICMP flow with no packet for this long is over', '120s')
    .option('--tcp-idle-timeout <duration>', 'an open TCP flow with no packet for this long is over', '2h')
    .option('--max-flows <n>', 'most flows held at once; beyond it the longest idle are evicted (and counted)', MAX_FLOWS_DEFAULT);
  addReportOptions(live).action(async (opts: LiveCliOptions) => {
      const { runLive } = await import('./live.js');
      await runLive(opts, version, setExit);
    });
}

/** Registers `flowaudit collect`; `setExit(1)` when --fail-on matched in the final report. */
export function registerCollect(program: Command, version: string, setExit: (code: number) => void): void {
  const collect = program
    .command('collect')
    .description('receive flow export (IPFIX, NetFlow v9 and v5) from exporters and judge the conversations as they come, with a report every tick and a final one')
    .requiredOption('--listen <udp:[host:]port>', 'where to receive the exporters\' datagrams, e.g. udp:9995 (every IPv4 address), udp:127.0.0.1:2055, udp:[::]:4739')
    .requiredOption('--catalog <id|file...>', 'catalog id (see `catalog list`) or catalog file; repeatable')
    .option('--roles <file>', 'role map: which hosts play which role (YAML)')
    .option('--site <prefixes>', SITE_HELP, collectList)
    .option('--no-infer', NO_INFER_HELP)
    .option(MIN_SPAN_FLAG, MIN_SPAN_HELP, MIN_SPAN_DEFAULT_TEXT)
    .option('--background <id|file>', BACKGROUND_HELP)
    .option('--no-background', NO_BACKGROUND_HELP)
    .option('--waivers <file>', 'accepted exceptions with reasons and expiry dates (YAML)')
    .option('--set <name=value...>', 'override a catalog parameter, e.g. --set tunnel-port=443')
    .option('--report-every <duration>', 'a report every interval (e.g. 30s, 10m)', '60s')
    .option('--duration <duration>', 'stop after this long and write the final report (default: until Ctrl-C or SIGTERM)')
    .addOption(new Option('--format <format>', 'report format').choices(formatNames('live')).default('text'))
    .option('--out <file>', 'rewrite this file (atomically) at every report instead of writing to standard output')
    .option('--table <name>', TABLE_HELP('live'))
    .option('--fail-on <list>', `exit 1 when the final report has findings of these kinds: ${FAIL_ON_KINDS}`)
    .option('--idle-timeout <duration>', "a conversation with no record for this long (by the records' clock) is over", '5m')
    .option('--max-flows <n>', 'most conversations held open at once, and kept before they are folded per conversation (k, M allowed)', MAX_FLOWS_DEFAULT);
  addReportOptions(collect).action(async (opts: CollectCliOptions) => {
      const { runCollect } = await import('./collect.js');
      await runCollect(opts, version, setExit);
    });
}

/** Registers `flowaudit firewall`: the allow-list an audit proves, its diff against the catalog, as text, JSON, CSV or nftables. */
export function registerFirewall(program: Command, version: string): void {
  const firewall = program
    .command('firewall')
    .description('the minimal allow-list per role (or zone) pair that lets every expected and required flow pass, its diff against the catalog, and a rule set a firewall can load')
    .argument('<capture...>', `what --input reads: ${inputPathsHelp()}`)
    .addOption(new Option('--input <kind>', 'what the paths hold').choices(INPUT_KINDS.map((k) => k.name)).default(INPUT_DEFAULT))
    .requiredOption('--catalog <id|file...>', 'catalog id (see `catalog list`) or catalog file; repeatable')
    .option('--roles <file>', 'role map: which hosts play which role (YAML)')
    .option('--zones <file>', 'firewall zones: zone ids mapped to roles and address blocks (YAML); rules per zone pair instead of role pair')
    .addOption(new Option('--dynamic <open>', 'what a rule of dynamic ports (DCE/RPC…) opens: the ports the capture saw granted, or the range the vendor documents').choices(['granted', 'range']).default('granted'))
    .option('--waivers <file>', "accepted exceptions (YAML): a waived required flow is not listed as blocked, a waived flow for review carries the waiver's reason")
    .option('--baseline <file.json>', 'an earlier `firewall --format json` of the same site: what this capture adds, removes and changes')
    .option('--site <prefixes>', SITE_HELP, collectList)
    .option('--no-infer', NO_INFER_HELP)
    .option(MIN_SPAN_FLAG, MIN_SPAN_HELP, MIN_SPAN_DEFAULT_TEXT)
    .option('--background <id|file>', BACKGROUND_HELP)
    .option('--no-background', NO_BACKGROUND_HELP)
    .option('--set <name=value...>', 'override a catalog parameter, e.g. --set tunnel-port=443')
    .addOption(new Option('--format <format>', 'output format (nft: an nftables rule set for `nft -f`)').choices(formatNames('firewall')).default('text'))
    .option('--out <file>', 'write to a file instead of standard output')
    .option('--vlan-key', 'keep flows on different VLANs apart', false)
    .option(WORKERS_FLAG, WORKERS_HELP, 'auto')
    .option(MAX_FLOWS_FLAG, MAX_FLOWS_HELP, MAX_FLOWS_DEFAULT);
  addReportOptions(firewall).action(async (captures: string[], opts: FirewallOptions) => {
    const { runFirewall } = await import('./firewall.js');
    await runFirewall(captures, opts, version);
  });
}
