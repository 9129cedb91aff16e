// The kickstart library: YAML templates and overlays in, Debian-flavoured kickstarts and build plans out.
export type { BuildPlan, PlanPartition, PlanRepo, PlanScript, PlanUser, PlanXkb } from './build-plan.ts';
export type { KsError, TemplateIssue } from './errors.ts';
export { formatKsErrors, formatTemplateIssues } from './errors.ts';
export {
  isValidDebianPackageName, isValidGroupName, isValidHostname, isValidRepoName, isValidUserName,
} from './names.ts';
export type { PlatformKey, PlatformValues, TemplateUser } from './template-schema.ts';
export { PLATFORM_KEYS } from './template-schema.ts';
export type { Origin, Platform } from './platform.ts';
export type { GroupTable, LoadTemplateResult, Template, TemplatePostScript, TemplateRepository } from './template.ts';
export { listPlatforms, loadTemplate, platformArchitecture } from './template.ts';
export type { OverlayResult } from './overlay.ts';
export { applyOverlay } from './overlay.ts';
export type { PlanResult } from './platform-plan.ts';
export { platformToPlan } from './platform-plan.ts';
export type { GenerateResult, MergedPlatformResult } from './generate.ts';
export { generateKickstart, mergedPlatform } from './generate.ts';
export { platformYaml } from './platform-yaml.ts';
export type { ParseOptions, ParseResult, PlanLines } from './ks-parser.ts';
export type { KickstartLimits } from './limits.ts';
export { DEFAULT_MAX_ROOT_SIZE_MIB } from './limits.ts';
export { parseKickstart } from './ks-parser.ts';
export type { Suite } from './suites.ts';
export type { Architecture } from './architectures.ts';
export { ARCH_NAMES, ARCHITECTURES, DEFAULT_ARCH, findArchitecture, offeredArchitectures, unknownArchitectureMessage } from './architectures.ts';
export type { AptSource, AptSources } from './apt-sources.ts';
export { aptSources } from './apt-sources.ts';
export { DEFAULT_SUITE, findSuite, offeredSuites, releaseOf, SUITE_NAMES, SUITES, unknownSuiteMessage } from './suites.ts';
export { kickstartFromPlan } from './ks-writer.ts';
export type { GroupError, ResolvedGroups } from './groups.ts';
export { resolveGroups } from './groups.ts';
export { defaultTemplatePath, loadDefaultTemplate } from './default-template.ts';
