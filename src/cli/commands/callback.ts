import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit.js';
import { addSettings, portOption } from '../options.js';
import { KEY_SETTINGS, keyRingFor } from '../run-settings.js';

export function callbackCommand(ctx: CommandContext): Command {
  const cmd = new Command('callback')
    .description('serve the redirect_uri of hosted-auth invites: verify the link, exchange the code, record the grant')
    .requiredOption('--redirect-uri <url>', 'the same redirect URI the invites were made with')
    .addOption(portOption(4200))
    .option('--host <host>', 'address to listen on (put a TLS proxy in front of it)', '127.0.0.1');
  addSettings(cmd, ['redisUrl', 'clientId', 'apiKey', 'apiUri', 'logLevel', ...KEY_SETTINGS]);
  return cmd
    .addHelpText(
      'after',
      `
A connected mailbox is recorded in the ledger of the invite's queue: run "imap-grants report" to see
it move from dead-letter.csv to grants.csv. Each error (invalid_authentication, auth_limit_reached,
provider_not_responding) shows the person what happened and what to do. Forged or expired links are refused.

Example:
  $ imap-grants callback --port 4200 --redirect-uri https://onboard.example.com/callback`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const { createLogger } = await import('../../log.js');
      const { createNylasClient } = await import('../../nylas/sdk.js');
      const { connectRedis } = await import('../../queue/redis.js');
      const { startCallbackServer } = await import('../../hosted/callback-server.js');
      const s = resolveSettings(['redisUrl', 'clientId', 'apiKey', 'apiUri', 'logLevel'], opts, process.env, ['clientId', 'apiKey']);
      const log = createLogger(s.logLevel);
      const ring = keyRingFor(opts, process.env, { command: 'callback', allowEphemeral: false });
      const redis = await connectRedis(s.redisUrl);
      const server = await startCallbackServer({
        host: String(opts.host),
        port: opts.port as number,
        nylas: createNylasClient({ apiKey: s.apiKey, apiUri: s.apiUri }),
        ring,
        redis,
        clientId: s.clientId,
        redirectUri: String(opts.redirectUri),
        log,
      });
      log.info({ event: 'callback:serving', url: server.url }, `serving hosted-auth callbacks on ${server.url}`);
      await ctx.untilShutdown();
      await server.close();
      redis.disconnect();
      ctx.setExitCode(EXIT.ok);
    });
}
