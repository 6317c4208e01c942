import type { RunSummary } from '../reports/write-reports.js';
import { EXIT } from './exit.js';

export function formatSummary(s: RunSummary): string {
  const lines = [
    `Rows read:       ${s.rows}`,
    `Granted:         ${s.granted} (${s.created} new, ${s.reauthenticated} re-authenticated${s.unchanged ? `, ${s.unchanged} unchanged` : ''}${s.hosted_auth ? `, ${s.hosted_auth} through hosted auth` : ''})`,
    `Dead-lettered:   ${s.dead_lettered}${Object.keys(s.dead_letters_by_error_type).length ? ` (${Object.entries(s.dead_letters_by_error_type).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`,
    `Rejected rows:   ${s.rejected}`,
  ];
  if (s.expired) lines.push(`Expired:         ${s.expired}`);
  if (s.already_queued) lines.push(`Already queued:  ${s.already_queued}`);
  if (s.breakers_opened) lines.push(`Hosts paused:    ${s.breakers_opened} time(s) a host stopped answering (circuit breaker)`);
  if (s.duration_s !== undefined) lines.push(`Duration:        ${s.duration_s} s (${s.rows_per_second ?? 0} rows/s)`);
  if (s.halted) lines.push(`HALTED:          ${s.halted}`);
  if (s.import_error) lines.push(`IMPORT FAILED:   ${s.import_error}`);
  lines.push('Reports:', `  ${s.reports.grants}`, `  ${s.reports.dead_letter}`, `  ${s.reports.rejected}`, `  ${s.reports.summary}`);
  return `${lines.join('\n')}\n`;
}

/** 0: every row granted; 2: some rows dead-lettered, rejected or expired; 1: the run could not finish. */
export function exitCodeFor(s: RunSummary): number {
  if (s.halted || s.import_error) return EXIT.fatal;
  if (s.dead_lettered + s.rejected + s.expired > 0 || s.granted < s.accepted) return EXIT.incomplete;
  return EXIT.ok;
}
