/**
 * `analyze --sensor NAME=KIND:PATH`, repeatable: the sensors of one site, each a name (what every
 * flow's `sensors` lists), an input kind (a row of inputs.ts; without `KIND:` the --input kind) and
 * its paths (the same NAME again adds a path to that sensor). Each sensor is read as `analyze` reads
 * its paths alone, then the site is audited as one (audit/site.ts).
 */
import type { AuditReport } from '../audit/index.js';
import type { Sensor } from '../audit/site.js';
import { InputError } from '../core/errors.js';
import type { ShardedOptions } from '../worker/sharded.js';
import { AuditInputs, INPUT_KINDS, InputKind, inputKind } from './inputs.js';

export interface SensorSpec {
  name: string;
  kind: InputKind;
  paths: string[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The --sensor values as sensors, in the order their names first appear; `defaultKind`: --input's. */
export function parseSensors(items: string[], defaultKind: string): SensorSpec[] {
  const kinds = INPUT_KINDS.map((k) => k.name);
  const usage = `expected NAME=KIND:PATH or NAME=PATH (NAME of letters, digits, '.', '_', '-'; KIND one of ${kinds.join(', ')}, default the --input kind)`;
  const byName = new Map<string, SensorSpec>();
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? '' : item.slice(0, eq);
    if (!NAME.test(name)) throw new InputError(`--sensor ${item}: ${usage}`);
    const rest = item.slice(eq + 1);
    const colon = rest.indexOf(':');
    const named = colon > 0 && kinds.includes(rest.slice(0, colon));
    const kind = inputKind(named ? rest.slice(0, colon) : defaultKind);
    const path = named ? rest.slice(colon + 1) : rest;
    if (path === '') throw new InputError(`--sensor ${item}: no path: ${usage}`);
    const known = byName.get(name);
    if (known === undefined) byName.set(name, { name, kind, paths: [path] });
    else if (known.kind !== kind) throw new InputError(`--sensor ${name}: given as ${known.kind.name} and as ${kind.name}: a sensor is one kind (name the other one differently)`);
    else known.paths.push(path);
  }
  const sensors = [...byName.values()];
  const stdin = sensors.flatMap((s) => s.paths.filter((p) => p === '-').map(() => s));
  if (stdin.length > 1) throw new InputError('standard input (-) can be read only once');
  for (const s of stdin) if (!s.kind.stdin) throw new InputError(`--sensor ${s.name}: ${s.kind.name} reads files and folders, not standard input (-)`);
  return sensors;
}

/** Reads every sensor, one after the other, and audits them as one site. */
export async function analyzeSensors(specs: SensorSpec[], slack: number, inputs: AuditInputs, read: (spec: SensorSpec) => ShardedOptions): Promise<AuditReport> {
  const [{ audit }, { readSensor }] = await Promise.all([import('../audit/index.js'), import('../audit/site.js')]);
  const sensors: Sensor[] = [];
  // Each read reduced to its records and summary before the next: one flow table at a time.
  for (const spec of specs) sensors.push(readSensor(spec.name, spec.kind.name, await spec.kind.read(spec.paths, read(spec))));
  return audit({ kind: 'site', sensors, slack }, { ...inputs, grants: [] });
}
