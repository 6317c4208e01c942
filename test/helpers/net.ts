import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** A port that was free a moment ago and has nothing listening on it now. */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A server that accepts connections and never says a word (no greeting). */
export async function silentServer(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const s = net.createServer((sock) => {
    count++;
    sockets.add(sock);
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return {
    port: (s.address() as AddressInfo).port,
    connections: () => count,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

/** A fake IMAP server that greets and answers every login with the given tagged line. */
export async function scriptedImapServer(loginReply: (tag: string) => string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
    sock.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const [tag, cmd] = line.split(' ');
        if (!tag || !cmd) continue;
        const c = cmd.toUpperCase();
        if (c === 'CAPABILITY') sock.write(`* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n${tag} OK done\r\n`);
        else if (c === 'LOGIN' || c === 'AUTHENTICATE') sock.write(`${loginReply(tag)}\r\n`);
        else if (c === 'LOGOUT') sock.end(`* BYE bye\r\n${tag} OK bye\r\n`);
        else sock.write(`${tag} OK done\r\n`);
      }
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return {
    port: (s.address() as AddressInfo).port,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}
