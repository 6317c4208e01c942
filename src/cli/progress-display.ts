import { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { formatDuration, type RunStatus } from '../run/run-status.js';

export interface ProgressDisplay {
  update(s: RunStatus): void;
  stop(): void;
  /** Where log lines go so they print above the bars instead of through them (terminal only). */
  logStream?: NodeJS.WritableStream;
}

const line = (s: RunStatus, rowsEstimate?: number) =>
  `progress: ${s.rows}${rowsEstimate && !s.import_done ? `/~${rowsEstimate}` : ''} rows read, ${s.accepted} queued, ` +
  `${s.granted} granted, ${s.dead_lettered} dead-lettered, ${s.rejected} rejected, ${s.retrying} retrying, ` +
  `${s.rate_per_s}/s${s.eta_s !== undefined ? `, ETA ${formatDuration(s.eta_s)}` : ''}`;

/**
 * Live progress. In a terminal: two bars (rows read and queued; rows
 * finished) with counts, rate and ETA. Elsewhere (cron, CI, containers): a
 * plain line every `intervalS` seconds, with no control characters.
 */
export function createProgressDisplay(stream: NodeJS.WriteStream, opts: { intervalS: number; rowsEstimate?: number }): ProgressDisplay {
  if (!stream.isTTY) {
    let last = 0;
    let latest: RunStatus | undefined;
    return {
      update: (s) => {
        latest = s;
        if (Date.now() - last < opts.intervalS * 1000) return;
        last = Date.now();
        stream.write(`${line(s, opts.rowsEstimate)}\n`);
      },
      stop: () => {
        if (latest) stream.write(`${line(latest)}\n`);
      },
    };
  }
  const bars = new cliProgress.MultiBar(
    { stream, hideCursor: true, clearOnComplete: false, autopadding: true, format: '{label} {bar} {value}/{total} {extra}', barsize: 30 },
    cliProgress.Presets.shades_classic,
  );
  const read = bars.create(opts.rowsEstimate ?? 1, 0, { label: 'import ', extra: '' });
  // Each log line is cut to the terminal's width: a wrapped line would throw off the cursor
  // arithmetic that redraws the bars, and a bar would be overwritten.
  const fit = (line: string) => {
    const width = stream.columns || 120;
    // eslint-disable-next-line no-control-regex
    const visible = line.replace(/\x1b\[[0-9;]*m/g, '');
    return visible.length < width - 1 ? line : `${visible.slice(0, width - 3)}…`;
  };
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = chunk.toString('utf8').split('\n').filter((l) => l !== '');
      bars.log(`${lines.map(fit).join('\n')}\n`);
      done();
    },
  });
  const done = bars.create(1, 0, { label: 'grants ', extra: '' });
  return {
    update: (s) => {
      read.setTotal(Math.max(s.import_done ? s.rows : (opts.rowsEstimate ?? s.rows), 1));
      read.update(s.rows, { extra: `read · ${s.accepted} queued · ${s.rejected} rejected` });
      done.setTotal(Math.max(s.accepted, 1));
      done.update(s.finished, {
        extra: `${s.granted} granted · ${s.dead_lettered} dead · ${s.retrying} retrying · ${s.rate_per_s}/s${s.eta_s !== undefined ? ` · ETA ${formatDuration(s.eta_s)}` : ''}`,
      });
    },
    stop: () => bars.stop(),
    logStream,
  };
}

/** Rows in a file, roughly (one per line break), for the import bar's total. Cheap: one pass over bytes. */
export async function estimateRows(path: string): Promise<number | undefined> {
  const { createReadStream } = await import('node:fs');
  let lines = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      const buf = chunk as Buffer;
      for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
    }
  } catch {
    return undefined;
  }
  return Math.max(0, lines - 1);
}
