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
export async function silentServer(host = '127.0.0.1', port = 0): Promise<{ port: number; connections: () => number; maxOpen: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  let maxOpen = 0;
  const live = new Set<net.Socket>();
  const s = net.createServer((sock) => {
    count++;
    sockets.add(sock);
    live.add(sock);
    // A connection counts until its FIN arrives. Counted after this poll phase: a FIN and a
    // new connection that arrive together may be dispatched in either order.
    setImmediate(() => (maxOpen = Math.max(maxOpen, live.size)));
    sock.on('end', () => live.delete(sock));
    sock.on('error', () => {});
    sock.on('close', () => {
      live.delete(sock);
      sockets.delete(sock);
    });
  });
  await new Promise<void>((r) => s.listen(port, host, () => r()));
  return {
    port: (s.address() as AddressInfo).port,
    connections: () => count,
    maxOpen: () => maxOpen,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

/** A fake IMAP server that greets and answers every login with the given tagged line. */
export async function scriptedImapServer(loginReply: (tag: string) => string, host = '127.0.0.1', port = 0): Promise<{ port: number; close(): Promise<void> }> {
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
  await new Promise<void>((r) => s.listen(port, host, () => r()));
  return {
    port: (s.address() as AddressInfo).port,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}
