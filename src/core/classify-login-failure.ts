/**
 * What a mail server's refusal means, from the facts imapflow and nodemailer
 * put on their errors. Classified by the server's response code, not by
 * imapflow's `authenticationFailed` flag alone: that flag is also set for a
 * temporary `NO [UNAVAILABLE]`, and treating an outage as a wrong password
 * trips lockouts.
 */

export type LoginFailureClass = 'AUTHENTICATIONFAILED' | 'UNAVAILABLE' | 'timeout' | 'TLS' | 'DNS' | 'refused' | 'other';

/** The non-secret facts of a login error (never its full text, which may quote input). */
export interface LoginErrorFacts {
  protocol: 'imap' | 'smtp';
  /** Node, imapflow or nodemailer code; for nodemailer, the socket's own code when it has one. */
  code?: string;
  authenticationFailed?: boolean;
  /** IMAP response code, e.g. `AUTHENTICATIONFAILED`, `UNAVAILABLE`. */
  serverResponseCode?: string;
  /** SMTP reply code, e.g. 535. */
  responseCode?: number;
  message?: string;
}

export interface LoginFailure {
  class: LoginFailureClass;
  protocol: 'imap' | 'smtp';
  detail: string;
}

/** IMAP response codes (RFC 5530) that say: these credentials will not work. */
const WRONG_CREDENTIAL_CODES = new Set(['AUTHENTICATIONFAILED', 'AUTHORIZATIONFAILED', 'EXPIRED']);
const TIMEOUT_CODES = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ETIMEOUT', 'ETIMEDOUT', 'DEADLINE']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EDNS']);
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|ETLS$|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_VERIFY_LEAF_SIGNATURE$|UNABLE_TO_GET_ISSUER_CERT)/;

export function classifyLoginFailure(f: LoginErrorFacts): LoginFailure {
  const at = (cls: LoginFailureClass, detail: string): LoginFailure => ({ class: cls, protocol: f.protocol, detail });
  const code = f.code ?? '';

  if (f.protocol === 'imap' && f.authenticationFailed) {
    const rc = f.serverResponseCode;
    if (rc === undefined) return at('AUTHENTICATIONFAILED', 'IMAP server refused the login (no response code)');
    if (WRONG_CREDENTIAL_CODES.has(rc)) return at('AUTHENTICATIONFAILED', `IMAP server refused the login [${rc}]`);
    if (rc === 'UNAVAILABLE') return at('UNAVAILABLE', 'IMAP server reported a temporary failure [UNAVAILABLE]');
    return at('other', `IMAP server refused the login [${rc}]`);
  }
  if (f.protocol === 'smtp' && code === 'EAUTH' && f.responseCode !== undefined) {
    if (f.responseCode >= 500) return at('AUTHENTICATIONFAILED', `SMTP server refused the login (${f.responseCode})`);
    return at('UNAVAILABLE', `SMTP server reported a temporary failure (${f.responseCode})`);
  }
  if (code === 'ECONNREFUSED') return at('refused', `${f.protocol.toUpperCase()} connection refused`);
  if (DNS_CODES.has(code)) return at('DNS', `${f.protocol.toUpperCase()} host name lookup failed (${code})`);
  if (TIMEOUT_CODES.has(code)) return at('timeout', `${f.protocol.toUpperCase()} server did not answer in time (${code})`);
  if (TLS_CODE.test(code)) return at('TLS', `${f.protocol.toUpperCase()} TLS failure (${code})`);
  return at('other', `${f.protocol.toUpperCase()} login failed (${code || 'no code'})`);
}
