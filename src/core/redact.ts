/**
 * Scrubs known secrets out of text (error messages, response bodies) before
 * it is logged or stored: each secret is replaced in clear, base64 and
 * URL-encoded form. Short secrets are replaced too; a reason that reads
 * "[redacted]" is better than one that leaks.
 */
export function redactText(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    const forms = new Set([secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
    for (const form of forms) if (form) out = out.split(form).join('[redacted]');
  }
  return out;
}

/** Cuts text to a length a report cell can carry. */
export const clip = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
