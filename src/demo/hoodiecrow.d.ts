declare module 'hoodiecrow-imap' {
  import type { Server } from 'node:net';
  interface HoodiecrowOptions {
    users?: Record<string, { password: string; xoauth2?: unknown }>;
    plugins?: string[];
    storage?: unknown;
    secureConnection?: boolean;
  }
  interface HoodiecrowServer {
    server: Server;
    listen(port: number, host?: string, cb?: () => void): void;
    close(cb?: () => void): void;
    setMaxListeners(n: number): void;
  }
  export default function hoodiecrow(options?: HoodiecrowOptions): HoodiecrowServer;
}
