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

export function classifyFailure(result: SandboxResult, scan: LogScanner, lastPhase: Phase, limits: { timeoutS: number; memoryMb: number }): Classified {
  const phase = asPhase(scan.failure?.phase, lastPhase);
  if (result.timedOut) {
    return { code: 'timeout', phase, message: `the build ran longer than the limit of ${limits.timeoutS} s and was stopped`, excerpt: scan.tail(EXCERPT) };
  }
  if (result.oomKilled) {
    return { code: 'resource_limit', phase, message: `the build used more than its memory limit of ${limits.memoryMb} MiB and was stopped`, excerpt: scan.tail(EXCERPT) };
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
      return { code: 'package_not_found', phase, message: `the package '${name}' was not found in the image's repositories`, excerpt: lines.filter((l) => missingPackage.test(l) || /^E:/.test(l)).slice(-EXCERPT) };
    }
    const net = lines.filter((l) => unreachable.test(l));
    if (net.length > 0) {
      return { code: 'repo_unreachable', phase, message: 'a package repository could not be reached', excerpt: net.slice(-EXCERPT) };
    }
    return { code: 'build_failed', phase, message: 'installing the packages failed', excerpt: scan.tail(EXCERPT) };
  }
  if (reason === 'unsupported_image_type') {
    return { code: 'unsupported_image_type', phase, message: 'this image type is not built yet', excerpt: scan.tail(5) };
  }
  if (result.exitCode === 137 && !reason) {
    return { code: 'resource_limit', phase, message: 'the build was killed (exit 137), most likely by a resource limit', excerpt: scan.tail(EXCERPT) };
  }
  return { code: 'build_failed', phase, message: `the build failed in the ${phase} phase (exit ${result.exitCode})`, excerpt: scan.tail(EXCERPT) };
}
