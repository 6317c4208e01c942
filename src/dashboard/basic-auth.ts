import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** HTTP basic auth against one user; compares digests in constant time. */
export function basicAuth(user: string, password: string, realm = 'imap-grants'): RequestHandler {
  const want = digest(`${user}:${password}`);
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    if (given && timingSafeEqual(digest(given), want)) return next();
    res.set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`).status(401).type('text/plain').send('Sign in to see the imap-grants dashboard.\n');
  };
}
