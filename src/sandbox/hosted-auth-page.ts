/** The hosted-auth form the sandbox shows for provider `imap`. */

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface HostedAuthFormFields {
  clientId: string;
  redirectUri: string;
  state: string;
  loginHint: string;
  imapHost: string;
  imapPort: string;
  smtpHost: string;
  smtpPort: string;
  smtpRequired: boolean;
}

export function renderHostedAuthForm(f: HostedAuthFormFields): string {
  const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${esc(value)}">`;
  const field = (label: string, name: string, value: string, type = 'text', required = false) =>
    `<label>${label}<input type="${type}" name="${name}" id="${name}" value="${esc(value)}"${required ? ' required' : ''}></label>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect your mailbox · imap-grants sandbox</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;color:#222}
label{display:block;margin:.6rem 0;font-size:.9rem}input{display:block;width:100%;padding:.4rem;margin-top:.2rem;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1.2rem}small{color:#666}
</style></head><body>
<h1>Connect your mailbox</h1>
<p><small>imap-grants sandbox: this page stands in for Nylas Hosted auth.</small></p>
<form method="post" action="/v3/connect/auth">
${hidden('client_id', f.clientId)}${hidden('redirect_uri', f.redirectUri)}${hidden('state', f.state)}
${field('Email address', 'email', f.loginHint, 'email', true)}
${field('IMAP username (leave empty to use the email)', 'imap_username', '')}
${field('Password or app password', 'imap_password', '', 'password', true)}
${field('IMAP host', 'imap_host', f.imapHost)}
${field('IMAP port', 'imap_port', f.imapPort)}
${field('SMTP host', 'smtp_host', f.smtpHost, 'text', f.smtpRequired)}
${field('SMTP port', 'smtp_port', f.smtpPort, 'text', f.smtpRequired)}
<button type="submit" id="connect">Connect</button>
</form></body></html>`;
}
