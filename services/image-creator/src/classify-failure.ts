// Turns a failed build into an error a person can act on: a code from the shared list, a sentence,
// and the log lines that show the cause.
import type { ErrorCode } from '@img/shared/errors';
import type { Phase } from '@img/shared/contracts';
import type { LogScanner } from './log-scanner.ts';
import type { SandboxResult } from './docker-runner.ts';

export interface Classified {
  code: ErrorCode;
  message: string;
  phase: Phase;
  excerpt: string[];
  line?: number;
}

const EXCERPT = 25;
const missingPackage = /Unable to locate package (\S+)|Package '?([^' ]+)'? has no installation candidate|E: Couldn't find any package by glob '([^']+)'/;
const unreachable = /Failed to fetch|Could not resolve|Temporary failure resolving|Could not connect|Unable to connect|Connection failed|does not have a Release file|Connection timed out|Network is unreachable/;

function asPhase(p: string | undefined, fallback: Phase): Phase {
  return p === 'fetching' || p === 'installing' || p === 'post' || p === 'assembling' || p === 'verifying' ? p : fallback;
}

/**
 * Every reason the sandbox scripts give with `fail REASON` (the @@IMG-FAIL marker), and the error
 * code it becomes when nothing more telling is in the log. A test reads the scripts and checks that
 * each reason they can print is here, and each one here is printed.
 */
export const failReasons = {
  install_failed: 'build_failed',
  post_script_failed: 'post_script_failed',
  settings_failed: 'invalid_kickstart',
  rootfs_too_big: 'invalid_kickstart',
  no_kernel: 'invalid_kickstart',
  unsupported_fstype: 'invalid_kickstart',
  assembly_failed: 'build_failed',
  unsupported_image_type: 'unsupported_image_type',
  cache_offer_not_taken: 'sandbox_error',
} as const satisfies Record<string, ErrorCode>;

export interface Limits { timeoutS: number; memoryMb: number; pids: number; diskMb: number; inodes: number }

/** What the build was for: a missing package is missing from this suite for this architecture. */
export interface BuildTarget { suite: string; arch: string }

export function classifyFailure(result: SandboxResult, scan: LogScanner, lastPhase: Phase, limits: Limits, target?: BuildTarget): Classified {
  const phase = asPhase(scan.failure?.phase, lastPhase);
  // A fork bomb fills the process table and then usually runs into the timeout: the limit is the cause.
  if (scan.processLimitLines.length > 0) {
    return { code: 'resource_limit', phase, message: `the build reached its limit of ${limits.pids} processes`, excerpt: scan.processLimitLines };
  }
  if (result.processMemoryExceeded !== undefined) {
    return {
      code: 'resource_limit', phase, excerpt: scan.tail(EXCERPT),
      message: `the build's processes used ${Math.round(result.processMemoryExceeded / 1048576)} MiB of memory, more than their limit of ${limits.memoryMb} MiB, and the build was stopped`,
    };
  }
  // A full work area fails whatever was writing: the limit is the cause, not the command.
  if (scan.diskFullLines.length > 0 && !result.timedOut && scan.failure?.reason !== 'rootfs_too_big') {
    return {
      code: 'resource_limit', phase,
      message: `the build filled its work area of ${limits.diskMb} MiB or ${limits.inodes} files (no space left on device)${scan.postLine && phase === 'post' ? ` in the %post script at kickstart line ${scan.postLine}` : ''}`,
      excerpt: scan.diskFullLines,
      ...(scan.postLine && phase === 'post' ? { line: scan.postLine } : {}),
    };
  }
  if (result.timedOut) {
    return { code: 'timeout', phase, message: `the build ran longer than the limit of ${limits.timeoutS} s and was stopped`, excerpt: scan.tail(EXCERPT) };
  }
  if (result.oomKilled) {
    return { code: 'resource_limit', phase, message: `the build used more than its memory limit of ${limits.memoryMb} MiB for its processes plus ${limits.diskMb} MiB for its work area, which is kept in memory, and was stopped`, excerpt: scan.tail(EXCERPT) };
  }
  const reason = scan.failure?.reason;
  if (reason === 'post_script_failed') {
    const out = scan.tail(EXCERPT, scan.postStart);
    const at = scan.postLine ? ` (kickstart line ${scan.postLine})` : '';
    const lastCommand = [...out].reverse().find((l) => l.startsWith('+ '));
    return {
      code: 'post_script_failed', phase: 'post', excerpt: out, ...(scan.postLine ? { line: scan.postLine } : {}),
      message: `the %post script${at} failed${lastCommand ? ` at the command: ${lastCommand.slice(2)}` : ''}`,
    };
  }
  if (reason === 'install_failed') {
    const lines = scan.tail(200);
    const missing = lines.map((l) => missingPackage.exec(l)).find(Boolean);
    if (missing) {
      const name = missing[1] ?? missing[2] ?? missing[3];
      const where = target ? ` for Debian ${target.suite} on ${target.arch}` : '';
      // A name that exists for one architecture only (grub-pc, linux-image-amd64) is the usual cause on arm64.
      const hint = target && target.arch !== 'amd64' ? `; some packages are built for some architectures only, so check that it exists for ${target.arch}` : '';
      return { code: 'package_not_found', phase, message: `the package '${name}' was not found in the image's repositories${where}${hint}`, excerpt: lines.filter((l) => missingPackage.test(l) || /^E:/.test(l)).slice(-EXCERPT) };
    }
    const net = lines.filter((l) => unreachable.test(l));
    if (net.length > 0) {
      return { code: 'repo_unreachable', phase, message: 'a package repository could not be reached', excerpt: net.slice(-EXCERPT) };
    }
    return { code: 'build_failed', phase, message: 'installing the packages failed', excerpt: scan.tail(EXCERPT) };
  }
  if (reason === 'rootfs_too_big') {
    const said = scan.tail(50).filter((l) => l.startsWith('IMG: the root file system does not fit'));
    const need = said.map((l) => /needs about (\d+) MiB/.exec(l)?.[1]).find(Boolean);
    return {
      code: 'invalid_kickstart', phase,
      message: `the root file system does not fit in part / --size${need ? `: it needs about ${need} MiB, raise --size to at least that` : ''}`,
      excerpt: said.length > 0 ? said : scan.tail(EXCERPT),
    };
  }
  if (reason === 'no_kernel' || reason === 'unsupported_fstype') {
    // The script's own sentence, the last IMG: line before the failure, says what is missing.
    const said = [...scan.tail(20)].reverse().find((l) => l.startsWith('IMG: '));
    return { code: 'invalid_kickstart', phase, message: said ? said.slice(5) : 'the image cannot be assembled from this kickstart', excerpt: scan.tail(EXCERPT) };
  }
  if (reason === 'settings_failed') {
    // The script's own sentence says which setting (the root password, a user, its groups or keys).
    const said = [...scan.tail(20)].reverse().find((l) => l.startsWith('IMG: ') || /failed/.test(l));
    return {
      code: failReasons.settings_failed, phase, message: `applying the kickstart's settings failed${said ? `: ${said.replace(/^IMG: /, '')}` : ''}`, excerpt: scan.tail(EXCERPT),
      ...(scan.settingLine ? { line: scan.settingLine } : {}),
    };
  }
  if (reason === 'assembly_failed') {
    return { code: 'build_failed', phase, message: 'assembling the image from the root file system failed', excerpt: scan.tail(EXCERPT) };
  }
  if (reason === 'cache_offer_not_taken') {
    return { code: failReasons.cache_offer_not_taken, phase, message: 'image-creator did not take the build\'s packages for the cache in time, so the build stopped before its output was taken', excerpt: scan.tail(5) };
  }
  if (reason === 'unsupported_image_type') {
    return { code: 'unsupported_image_type', phase, message: 'this image type is not built yet', excerpt: scan.tail(5) };
  }
  if (result.exitCode === 137 && !reason) {
    return { code: 'resource_limit', phase, message: 'the build was killed (exit 137), most likely by a resource limit', excerpt: scan.tail(EXCERPT) };
  }
  return { code: 'build_failed', phase, message: `the build failed in the ${phase} phase (exit ${result.exitCode})`, excerpt: scan.tail(EXCERPT) };
}
