export { loadCatalog, bundledCatalogIds, rulesDir, CatalogError, applyOverrides, checkOverrides, parseParamValue, mergeRanges } from './load.js';
export type { CatalogProblem, LoadOptions } from './load.js';
export * from './types.js';
