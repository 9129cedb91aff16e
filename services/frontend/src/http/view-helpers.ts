// Small formatters the templates use; every value they return is still escaped by ejs.
/** `j***@example.com`: the first character and the domain, never the whole address. */
import { maskEmail } from '@img/shared/jobs';

export { maskEmail };

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 ? `${s % 60} s` : ''}`.trim();
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** "3 min ago", "in 2 min", rounded as people say it. */
export function relativeTime(at: Date | undefined, now = new Date()): string {
  if (!at) return '';
  const d = Math.round((at.getTime() - now.getTime()) / 1000);
  const a = Math.abs(d);
  const span = a < 45 ? 'moments' : a < 3600 ? `${Math.max(1, Math.round(a / 60))} min` : a < 86_400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} d`;
  if (span === 'moments') return at.getTime() > now.getTime() ? 'in moments' : 'just now';
  return d >= 0 ? `in ~${span}` : `${span} ago`;
}

export function formatSize(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

export function utc(at: Date | undefined): string {
  return at ? `${at.toISOString().replace('T', ' ').slice(0, 19)} UTC` : '';
}

export const viewHelpers = { maskEmail, formatDuration, relativeTime, formatSize, utc };
