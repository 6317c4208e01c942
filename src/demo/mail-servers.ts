import type { AddressInfo, Server, Socket } from 'node:net';
import hoodiecrow from 'hoodiecrow-imap';
import { SMTPServer } from 'smtp-server';
import { DEMO_MAILBOXES } from './demo-mailboxes.js';

export { DEMO_MAILBOXES };

export interface RunningMailServers {
  imapPort: number;
  smtpPort: number;
  host: string;
  close(): Promise<void>;
}

/**
 * Tracks open sockets so close() can end them, and turns Nagle off: hoodiecrow
 * writes an untagged line and its tagged OK separately, and with Nagle plus
 * delayed ACKs each such exchange waited ~40 ms (a login took 150 ms, not 10).
 */
function trackSockets(server: Server): () => void {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return () => {
    for (const s of sockets) s.destroy();
  };
}

/**
 * A pure-Node IMAP server (hoodiecrow) and SMTP server (smtp-server) holding
 * the demo mailboxes, so the demo and the tests need no system mail server.
 * Plain TCP on loopback only.
 */
export async function startDemoMailServers(
  opts: { host?: string; imapPort?: number; smtpPort?: number; mailboxes?: Record<string, string> } = {},
): Promise<RunningMailServers> {
  const host = opts.host ?? '127.0.0.1';
  const mailboxes = opts.mailboxes ?? DEMO_MAILBOXES;
  const users = Object.fromEntries(Object.entries(mailboxes).map(([u, password]) => [u, { password }]));

  // AUTH=PLAIN makes imapflow send credentials base64-encoded; hoodiecrow's LOGIN
  // parser mangles quoted and UTF-8 passwords.
  const imap = hoodiecrow({ users, plugins: ['AUTH-PLAIN'] });
  // hoodiecrow adds a listener per connection; many concurrent logins are normal here.
  imap.setMaxListeners(0);
  const dropImap = trackSockets(imap.server);
  await new Promise<void>((resolve, reject) => {
    imap.server.once('error', reject);
    imap.listen(opts.imapPort ?? 0, host, () => resolve());
  });

  const smtp = new SMTPServer({
    secure: false,
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username && mailboxes[auth.username] !== undefined && mailboxes[auth.username] === auth.password) {
        cb(null, { user: auth.username });
      } else {
        cb(new Error('Invalid username or password'));
      }
    },
  });
  smtp.on('error', () => {});
  const dropSmtp = trackSockets(smtp.server);
  await new Promise<void>((resolve, reject) => {
    smtp.server.once('error', reject);
    smtp.listen(opts.smtpPort ?? 0, host, () => resolve());
  });

  return {
    host,
    imapPort: (imap.server.address() as AddressInfo).port,
    smtpPort: (smtp.server.address() as AddressInfo).port,
    close: async () => {
      dropImap();
      dropSmtp();
      await Promise.all([
        new Promise<void>((r) => imap.close(() => r())),
        new Promise<void>((r) => smtp.close(() => r())),
      ]);
    },
  };
}
