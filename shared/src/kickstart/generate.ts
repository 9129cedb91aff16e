// Template + platform name + overlay → kickstart text, through the one writer, and checked by the one
// reader: a template that yields a kickstart the parser refuses is reported here, not by the builder.
import type { TemplateIssue } from './errors.ts';
import { parseKickstart } from './ks-parser.ts';
import { maxRootSizeMib } from './limits.ts';
import type { KickstartLimits } from './limits.ts';
import { issueAt } from './platform.ts';
import { kickstartFromPlan } from './ks-writer.ts';
import { applyOverlay } from './overlay.ts';
import type { Platform } from './platform.ts';
import { platformToPlan } from './platform-plan.ts';
import { inheritedPlatform } from './template.ts';
import type { Template } from './template.ts';

export interface MergedPlatformResult {
  platform?: Platform;
  errors: TemplateIssue[];
  warnings: TemplateIssue[];
}

export interface GenerateResult {
  kickstart?: string;
  /** The Debian suite the kickstart builds (with the kickstart). */
  suite?: string;
  /** The architecture it builds for: the platform's Architecture (a kickstart does not say it). */
  arch?: string;
  errors: TemplateIssue[];
  warnings: TemplateIssue[];
}

/** Default, then the platform, then the overlay (comma list or YAML mapping). */
export function mergedPlatform(template: Template, name: string, overlay?: string): MergedPlatformResult {
  const inherited = inheritedPlatform(template, name);
  if (!inherited.platform) return { errors: inherited.errors, warnings: [] };
  if (overlay === undefined) return { platform: inherited.platform, errors: [], warnings: [] };
  const applied = applyOverlay(inherited.platform, overlay);
  if (applied.errors.length > 0) return { errors: applied.errors, warnings: applied.warnings };
  return { platform: applied.platform, errors: [], warnings: applied.warnings };
}

/**
 * `opts.limits`: the operator's caps, the same the kickstart parser is given (IMG_MAX_DISK_MB).
 * `opts.suite`: the request's `suite` field, which builds the platform for that suite instead of its Suite.
 */
export function generateKickstart(
  template: Template, platformName: string, overlay?: string, opts: { limits?: KickstartLimits; suite?: string } = {},
): GenerateResult {
  const merged = mergedPlatform(template, platformName, overlay);
  if (!merged.platform) return { errors: merged.errors, warnings: merged.warnings };
  if (opts.suite !== undefined) {
    merged.platform = { ...merged.platform, values: { ...merged.platform.values, Suite: opts.suite } };
  }
  // Said of the template line or overlay that set it: the generated kickstart's line means nothing to its author.
  const size = merged.platform.values.PartSize;
  const cap = maxRootSizeMib(opts.limits);
  if (size !== undefined && size > cap) {
    const at = issueAt(merged.platform.origins.PartSize?.[0], `PartSize ${size} is above this service's limit of ${cap} MiB`);
    return { errors: [at], warnings: merged.warnings };
  }
  const planned = platformToPlan(template, merged.platform);
  const warnings = [...merged.warnings, ...planned.warnings];
  if (!planned.plan) return { errors: planned.errors, warnings };
  const kickstart = kickstartFromPlan(planned.plan);
  const check = parseKickstart(kickstart, { arch: planned.plan.architecture, ...(opts.limits ? { limits: opts.limits } : {}) });
  if (check.errors.length > 0) {
    const errors = check.errors.map((e): TemplateIssue => ({
      source: 'template',
      message: `internal: the generated kickstart does not parse at its line ${e.line} (${e.text.trim()}): ${e.message}`,
    }));
    return { errors, warnings };
  }
  return { kickstart, suite: check.plan?.suite ?? planned.plan.suite, arch: planned.plan.architecture, errors: [], warnings };
}
