/**
 * The JSON Schema every catalog file is validated against (by ajv). Structure lives here; the checks
 * that need the whole file (references, unique ids, alternatives vs. defaults) are in sections.ts. The
 * raw types at the end, a catalog file's values as the schema admits them, are derived from it.
 */
import type { FromSchema } from './from-schema.js';

const kebab = { type: 'string', pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const range = { type: 'string', pattern: '^\\s*\\d{1,5}\\s*-\\s*\\d{1,5}\\s*$' } as const;
const paramRef = { type: 'object', required: ['param'], additionalProperties: false, properties: { param: kebab } } as const;
const portItem = { anyOf: [port, range, paramRef] } as const;
const dynamicKinds = ['dcerpc', 'sql-named-instance', 'tftp-transfer', 'ephemeral'] as const;
const dynamic = {
  type: 'object',
  required: ['dynamic'],
  additionalProperties: false,
  properties: { dynamic: { enum: dynamicKinds }, range },
} as const;
const portSpec = { anyOf: [port, range, paramRef, dynamic, { type: 'array', minItems: 1, items: portItem }] } as const;
const paramValue = { anyOf: [port, range, { type: 'array', minItems: 1, items: { anyOf: [port, range] } }] } as const;
const roleRefs = { anyOf: [kebab, { type: 'array', minItems: 1, items: kebab }] } as const;
const transport = { enum: ['tcp', 'udp', 'icmp', 'icmpv6'] } as const;
const period = { anyOf: [{ type: 'number', exclusiveMinimum: 0 }, { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*(s|m|h|d)$' }] } as const;
const cite = {
  type: 'object',
  required: ['section', 'text'],
  additionalProperties: false,
  properties: { document: kebab, section: { type: 'string', minLength: 1 }, text: { type: 'string', minLength: 1 } },
} as const;

const role = {
  type: 'object',
  required: ['id', 'name'],
  additionalProperties: false,
  properties: {
    id: kebab,
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    address: { enum: ['broadcast', 'multicast', 'external', 'any'] },
    hosts: { type: 'array', items: { type: 'string', minLength: 1 } },
    'acts-as': roleRefs,
    cite,
    note: { type: 'string' },
  },
} as const;

const param = {
  anyOf: [
    paramValue,
    {
      type: 'object',
      required: ['default'],
      additionalProperties: false,
      properties: { default: paramValue, description: { type: 'string' }, cite },
    },
  ],
} as const;

const rule = {
  type: 'object',
  required: ['id', 'from', 'to', 'transport', 'required', 'cite'],
  additionalProperties: false,
  properties: {
    id: kebab,
    from: roleRefs,
    to: roleRefs,
    direction: { enum: ['one-way', 'either'] },
    transport: { anyOf: [transport, { type: 'array', minItems: 1, uniqueItems: true, items: transport }] },
    ports: portSpec,
    icmp: {
      type: 'object',
      required: ['type'],
      additionalProperties: false,
      properties: { type: { type: 'integer', minimum: 0, maximum: 255 }, code: { type: 'integer', minimum: 0, maximum: 255 } },
    },
    service: { type: 'string' },
    required: { enum: ['required', 'optional', 'conditional'] },
    condition: { type: 'string', minLength: 1 },
    configurable: { type: 'boolean' },
    period,
    cite,
    note: { type: 'string' },
  },
} as const;

const expectation = {
  anyOf: [
    {
      type: 'object',
      required: ['rule'],
      additionalProperties: false,
      properties: { rule: kebab, reverse: { type: 'boolean' } },
    },
    { type: 'object', required: ['grant'], additionalProperties: false, properties: { grant: { enum: dynamicKinds } } },
  ],
} as const;

const requirement = {
  type: 'object',
  required: ['id', 'description', 'expect'],
  additionalProperties: false,
  properties: {
    id: kebab,
    description: { type: 'string', minLength: 1 },
    when: { type: 'object', required: ['rule'], additionalProperties: false, properties: { rule: kebab } },
    'for-each': kebab,
    expect: { type: 'array', minItems: 1, items: expectation },
    period,
    cite,
    note: { type: 'string' },
  },
} as const;

export const catalogSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: {
    id: kebab,
    name: { type: 'string', minLength: 1 },
    extends: { type: 'string', minLength: 1 },
    documents: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'title'],
        additionalProperties: false,
        properties: { id: kebab, title: { type: 'string', minLength: 1 }, url: { type: 'string' } },
      },
    },
    roles: { type: 'array', items: role },
    params: { type: 'object', propertyNames: kebab, additionalProperties: param },
    alternatives: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'sets'],
        additionalProperties: false,
        properties: {
          id: kebab,
          description: { type: 'string' },
          sets: { type: 'array', minItems: 2, items: { type: 'object', propertyNames: kebab, additionalProperties: paramValue } },
        },
      },
    },
    rules: { type: 'array', items: rule },
    requirements: { type: 'array', items: requirement },
  },
} as const;

export type RawCatalog = FromSchema<typeof catalogSchema>;
export type RawRole = FromSchema<typeof role>;
export type RawRule = FromSchema<typeof rule>;
export type RawRequirement = FromSchema<typeof requirement>;
export type RawParamValue = FromSchema<typeof paramValue>;
export type RawCite = FromSchema<typeof cite>;

/** The catalog's closed vocabularies, as the schema lists them (types.ts re-exports them). */
export type Transport = FromSchema<typeof transport>;
export type DynamicKind = (typeof dynamicKinds)[number];
export type Requiredness = RawRule['required'];
export type AddressClass = NonNullable<RawRole['address']>;
