// The real package index of the suites IMG builds, and the check of a kickstart's packages against it.
export type { IndexUnit, PlanUnits } from './units.ts';
export { INDEX_ARCHITECTURES, parseUnitKey, preloadUnits, sourcesOf, unitKey, unitMirror, unitsForPlan } from './units.ts';
export type { UnitData, UnitPackages } from './index-format.ts';
export { decodeUnit, encodeUnit, IndexFormatError, IndexStreamReader, MAX_INDEX_OUTPUT_BYTES } from './index-format.ts';
export type { Lookup } from './package-index.ts';
export { PackageIndexView } from './package-index.ts';
export type { CheckedKickstart, PackageCheckOptions } from './package-check.ts';
export { checkPackages } from './package-check.ts';
export type { StoredUnit } from './index-store.ts';
export { PackageIndexStore } from './index-store.ts';
export type { IndexAnswer } from './index-cache.ts';
export { PackageIndexCache } from './index-cache.ts';
export type { KickstartCheck, PackageCheckState } from './kickstart-check.ts';
export { checkKickstart } from './kickstart-check.ts';
