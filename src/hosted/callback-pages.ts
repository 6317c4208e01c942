/** What the person who clicked an invite sees, for each way it can end. */

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export type PageKind = 'connected' | 'invalid_authentication' | 'auth_limit_reached' | 'provider_not_responding' | 'link_invalid' | 'link_expired' | 'failed';

const PAGES: Record<PageKind, { status: number; title: string; body: string; next: string }> = {
  connected: {
    status: 200,
    title: 'Your mailbox is connected',
    body: 'Thank you. {email} is now connected.',
    next: 'You can close this window. There is nothing else to do.',
  },
  invalid_authentication: {
    status: 200,
    title: 'The password was not accepted',
    body: 'The mail server refused the password for {email}.',
    next: 'If your provider uses app passwords (Gmail, Yahoo, iCloud, or Outlook with two-step verification), create an app password in your account settings and enter it instead of your usual password. Then open the link from your invitation again.',
  },
  auth_limit_reached: {
    status: 200,
    title: 'Too many attempts',
    body: 'There have been too many failed sign-in attempts for {email}.',
    next: 'Please wait 15 minutes before you try again: more attempts now could lock your mailbox. Then open the link from your invitation again with the correct password or an app password.',
  },
  provider_not_responding: {
    status: 200,
    title: 'Your mail server did not answer',
    body: 'We could not reach the mail server for {email}.',
    next: 'This is usually temporary. Try again in a few minutes by opening the link from your invitation. If it keeps happening, ask your administrator to check the IMAP server name and port.',
  },
  link_invalid: {
    status: 400,
    title: 'This link is not valid',
    body: 'This sign-in link was changed or is incomplete.',
    next: 'Open the link exactly as it was sent to you, or ask your administrator for a new invitation.',
  },
  link_expired: {
    status: 400,
    title: 'This link has expired',
    body: 'This sign-in link is no longer valid.',
    next: 'Ask your administrator for a new invitation.',
  },
  failed: {
    status: 502,
    title: 'The connection could not be completed',
    body: 'Something went wrong while connecting {email}.',
    next: 'Please open the link from your invitation again. If it fails again, contact your administrator.',
  },
};

export function renderPage(kind: PageKind, email = 'your mailbox'): { status: number; html: string } {
  const p = PAGES[kind];
  const fill = (t: string) => esc(t).replace('{email}', `<strong>${esc(email)}</strong>`);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(p.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;color:#222;line-height:1.5}
h1{font-size:1.5rem}.next{background:#f4f6f8;border-left:4px solid ${kind === 'connected' ? '#2e7d32' : '#c62828'};padding:.8rem 1rem}</style>
</head><body data-page="${kind}">
<h1>${esc(p.title)}</h1>
<p>${fill(p.body)}</p>
<p class="next">${fill(p.next)}</p>
</body></html>`;
  return { status: p.status, html };
}
