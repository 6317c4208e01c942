import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether Debian's dovecot-imapd is installed here (.ci/run installs it). */
export function hasDovecot(): boolean {
  return spawnSync('sh', ['-c', 'command -v dovecot'], { stdio: 'ignore' }).status === 0;
}

export interface RunningDovecot {
  port: number;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitForGreeting(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString().startsWith('* OK'));
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`dovecot did not greet on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A rootless dovecot on a free loopback port, with passwd-file users. Run as
 * root (as CI is), the config names an unprivileged user (`nobody`): dovecot's
 * login processes refuse to run as root.
 */
export async function startDovecot(users: Record<string, string>): Promise<RunningDovecot> {
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const user = root ? 'nobody' : execFileSync('id', ['-un']).toString().trim();
  const group = root ? execFileSync('id', ['-gn', 'nobody']).toString().trim() : execFileSync('id', ['-gn']).toString().trim();
  const uid = Number(execFileSync('id', ['-u', user]).toString());
  const gid = Number(execFileSync('id', ['-g', user]).toString());
  const dir = mkdtempSync(join(tmpdir(), 'dovecot-'));
  chmodSync(dir, 0o755); // the auth process runs as the login user and must reach the passwd-file
  for (const sub of ['run', 'mail', 'state']) mkdirSync(join(dir, sub));
  if (root) chownSync(join(dir, 'mail'), uid, gid);
  writeFileSync(join(dir, 'users'), Object.entries(users).map(([u, p]) => `${u}:{PLAIN}${p}`).join('\n') + '\n', { mode: 0o644 });
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    `protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = dvt-${port}
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = ${user}
default_internal_group = ${group}
default_login_user = ${user}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
userdb {
  driver = static
  args = uid=${uid} gid=${gid} home=${dir}/mail/%u
}
mail_location = maildir:~/Maildir
`,
  );
  // dovecot daemonises; with piped stdio the call would wait for the daemon's pipes to close.
  execFileSync('dovecot', ['-c', conf], { stdio: 'ignore' });
  await waitForGreeting(port);
  return {
    port,
    close: async () => {
      spawnSync('doveadm', ['-c', conf, 'stop'], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
