export { loadCatalog, bundledCatalogIds, rulesDir, CatalogError, applyOverrides, checkOverrides } from './load.js';
export { parseParamValue, mergeRanges } from './ports.js';
export type { CatalogProblem, LoadOptions } from './load.js';
export * from './types.js';
export { BACKGROUND_ID, loadBackground } from './background.js';
