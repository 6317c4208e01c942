/**
 * Reports open in spreadsheets. A cell that starts with = + - @ (or a tab or
 * CR) is read as a formula there (`=cmd|' /C calc'!A0`), so such text gets a
 * leading apostrophe, as OWASP's CSV-injection advice says. Numbers are left alone.
 */
export function neutraliseCell(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}
