/**
 * Line breaks in a string, a CRLF counted once. Used to number lines ourselves
 * from the cells of a record (csv-parse counts a CRLF inside quotes twice); a
 * loop rather than a regex match, because it can run for every cell of a
 * million-row file.
 */
export function lineBreaks(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13) {
      n++;
      if (text.charCodeAt(i + 1) === 10) i++;
    }
  }
  return n;
}
