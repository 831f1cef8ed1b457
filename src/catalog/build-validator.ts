/**
 * Run by `npm run build`: writes dist/catalog/catalog-validator.js, the catalog schema's validator as
 * ajv's standalone code, so the commands that read catalogs do not compile it at every start (about
 * 100 ms of `analyze`'s start-up). load.ts falls back to compiling when the file is not there (tests
 * run from the sources), and a test holds the two to the same verdicts and errors.
 */
import type { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalogSchema } from './schema.js';
import { newAjv } from './validator.js';

type StandaloneCode = (ajv: Ajv, validate: unknown) => string;
// ajv's module is CommonJS: its function is the default export's default.
const standaloneCode = ((standalone as unknown as { default?: StandaloneCode }).default ?? standalone) as unknown as StandaloneCode;

const ajv = newAjv({ code: { source: true, esm: true } });
const code = standaloneCode(ajv, ajv.compile(catalogSchema));
// The standalone code requires ajv's small runtime helpers (ucs2length, equal) by CommonJS require.
const out = join(dirname(fileURLToPath(import.meta.url)), 'catalog-validator.js');
writeFileSync(out, `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${code}\n`);
