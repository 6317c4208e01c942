import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { once } from 'node:events';
import { stringify, type Stringifier } from 'csv-stringify';
import { neutraliseCell } from '../core/neutralise-cell.js';

/** A CSV file only its owner can read, fed row by row (never built in memory). */
export class CsvFile {
  private readonly file: WriteStream;
  private readonly csv: Stringifier;

  constructor(
    readonly path: string,
    columns: readonly string[],
  ) {
    this.file = createWriteStream(path, { mode: 0o600 });
    this.csv = stringify({ header: true, columns: [...columns], cast: { boolean: (b) => String(b) } });
    this.csv.pipe(this.file);
  }

  async write(record: Record<string, unknown>): Promise<void> {
    const safe: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) safe[k] = neutraliseCell(v);
    if (!this.csv.write(safe)) await once(this.csv, 'drain');
  }

  async close(): Promise<void> {
    this.csv.end();
    await once(this.file, 'close');
    await chmod(this.path, 0o600); // the file may have existed with a wider mode
  }
}
