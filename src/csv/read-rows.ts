import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { mapHeader, pickFields, type ColumnMap, type Field } from '../core/csv-columns.js';
import { lineBreaks } from '../core/line-breaks.js';

/** A CSV that cannot be used at all; nothing from it may be enqueued. */
export class UnreadableCsvError extends Error {
  override name = 'UnreadableCsvError';
}

/** One data record, with the physical line it starts on (the header is line 1). */
export type CsvRecord =
  | { kind: 'fields'; line: number; fields: Partial<Record<Field, string>> }
  | { kind: 'malformed'; line: number; email: string; reason: string };

const MAX_FIELD_BYTES = 64 * 1024;

/** Refuses files that are not UTF-8 text before parsing a byte of them. */
async function sniff(path: string): Promise<void> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new UnreadableCsvError(`${path}: cannot open (${e.code ?? e.message})`);
  });
  try {
    const buf = Buffer.alloc(8192);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (bytesRead === 0) throw new UnreadableCsvError(`${path}: line 1: the file is empty; expected a header row and at least one mailbox`);
    if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
      throw new UnreadableCsvError(`${path}: line 1: the file is UTF-16; save it as UTF-8 (CSV UTF-8 in Excel)`);
    }
    const nul = head.indexOf(0);
    if (nul >= 0) {
      const before = head.subarray(0, nul).toString('latin1').split('\n');
      const column = before.at(-1)!.split(',').length;
      throw new UnreadableCsvError(`${path}: line ${before.length}, column ${column} holds a NUL byte; a CSV of mailboxes never does (a binary or corrupted file?)`);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Streams the data records of a CSV in constant memory. Line numbers are
 * counted here, because csv-parse counts a CRLF inside a quoted field as two
 * lines. A record the parser cannot make sense of becomes a
 * `malformed` record naming its line; the stream goes on.
 */
export async function* readCsvRecords(path: string): AsyncGenerator<CsvRecord, { columns: ColumnMap }> {
  await sniff(path);
  const parser = createReadStream(path).pipe(
    parse({
      bom: true,
      relax_column_count: true,
      // A quote inside an unquoted field (pa"ss) is kept as it is: passwords have them.
      relax_quotes: true,
      skip_empty_lines: false,
      // Files edited on several systems mix line ends; accept each of them.
      record_delimiter: ['\r\n', '\n', '\r'],
      // Large enough that an oversized field is rejected by its row, not fatal to the file.
      max_record_size: 8 * 1024 * 1024,
    }),
  );
  let columns: ColumnMap | undefined;
  let header: string[] = [];
  let dataRows = 0;
  let line = 1;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      const start = line;
      // A record takes one line, plus the line breaks inside its quoted cells (only a quoted
      // cell can hold one). Counted from the cells rather than from csv-parse's `raw` text,
      // which would cost one more string per row.
      line += 1;
      for (const cell of record) if (cell.includes('\n') || cell.includes('\r')) line += lineBreaks(cell);
      if (!columns) {
        header = record.map((h) => h.trim());
        const mapped = mapHeader(header);
        if (!mapped.ok) throw new UnreadableCsvError(`${path}: ${mapped.error}`);
        columns = mapped.columns;
        continue;
      }
      if (record.length === 1 && record[0]!.trim() === '') continue; // blank line
      dataRows++;
      const emailCell = record[columns.index.email ?? -1]?.trim().slice(0, 254) ?? '';
      // A UTF-16 unit is at most 3 UTF-8 bytes: only long cells need counting.
      const tooBig = record.findIndex((cell) => cell.length > MAX_FIELD_BYTES / 3 && Buffer.byteLength(cell) > MAX_FIELD_BYTES);
      if (tooBig >= 0) {
        yield { kind: 'malformed', line: start, email: emailCell, reason: `column ${tooBig + 1}: field is larger than ${MAX_FIELD_BYTES / 1024} KiB` };
        continue;
      }
      if (record.length !== columns.width && !(record.length > columns.width && record.slice(columns.width).every((c) => c === ''))) {
        const reason =
          record.length < columns.width
            ? `row has ${record.length} fields but the header has ${columns.width}: columns ${record.length + 1}-${columns.width} (${header.slice(record.length).map((h) => h || '?').join(', ')}) are missing`
            : `row has ${record.length} fields but the header has ${columns.width}: column ${columns.width + 1} onwards has no header`;
        yield { kind: 'malformed', line: start, email: emailCell, reason };
        continue;
      }
      yield { kind: 'fields', line: start, fields: pickFields(record, columns) };
    }
  } catch (err) {
    if (err instanceof UnreadableCsvError) throw err;
    const e = err as { code?: string; message?: string; column?: number | string };
    const where = typeof e.column === 'number' ? `line ${line}, column ${e.column + 1}` : `line ${line}`;
    // The parser cannot resume after such an error: everything from here on is unreadable.
    throw new UnreadableCsvError(
      `${path}: ${where}: ${e.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is never closed' : (e.message ?? 'parse error').replace(/^Invalid \w+:\s*/, '')}; no row after line ${line - 1} was read`,
    );
  }
  if (!columns) throw new UnreadableCsvError(`${path}: line 1: the file has no header row`);
  // A header alone is a mistake, and for a reconciliation it would mean "no mailbox is wanted".
  if (dataRows === 0) throw new UnreadableCsvError(`${path}: line 1: the file has a header row but no mailbox rows`);
  return { columns };
}
