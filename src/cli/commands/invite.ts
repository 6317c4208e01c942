import { Command } from 'commander';
import { resolveSettings } from '../../config/settings.js';
import type { CommandContext } from '../context.js';
import { EXIT, FatalError } from '../exit.js';
import { addSettings } from '../options.js';
import { KEY_SETTINGS, keyRingFor } from '../run-settings.js';

const DAY = 86_400_000;

export function inviteCommand(ctx: CommandContext): Command {
  const cmd = new Command('invite')
    .description('make a hosted-auth link for every row that failed on its password, so its owner can enter a new (app) password')
    .argument('<dead-letter.csv>', 'a dead-letter report written by imap-grants')
    .requiredOption('--redirect-uri <url>', 'where Nylas sends people back: the address of "imap-grants callback"')
    .requiredOption('--out <file>', 'invites CSV to write (line, email, error_type, invite_url, expires_at)')
    .option('--days <n>', 'days each link stays valid', '7');
  addSettings(cmd, ['queue', 'clientId', 'apiUri', 'apiKey', ...KEY_SETTINGS]);
  return cmd
    .addHelpText(
      'after',
      `
Rows with error_type invalid_authentication or auth_limit_reached get a link (the SDK's urlForOAuth2,
provider imap, login_hint = the email, and a signed state that ties the link to its row and expires).
Needs IMAP_GRANTS_KEY: "imap-grants callback" verifies the state with it.

Example:
  $ imap-grants invite reports/dead-letter.csv --redirect-uri https://onboard.example.com/callback --out invites.csv`,
    )
    .action(async (deadLetter: string, opts: Record<string, unknown>) => {
      const { createNylasClient } = await import('../../nylas/sdk.js');
      const { makeInvites } = await import('../../hosted/make-invites.js');
      const s = resolveSettings(['queue', 'clientId', 'apiUri', 'apiKey'], opts, process.env, ['clientId']);
      const days = Number(opts.days);
      if (!Number.isFinite(days) || days <= 0) throw new FatalError(`--days: expected a positive number, got "${String(opts.days)}"`);
      try {
        new URL(String(opts.redirectUri));
      } catch {
        throw new FatalError(`--redirect-uri: expected an absolute URL, got "${String(opts.redirectUri)}"`);
      }
      const ring = keyRingFor(opts, process.env, { command: 'invite', allowEphemeral: false });
      // urlForOAuth2 only builds a URL; no request is made, so the API key may be absent.
      const nylas = createNylasClient({ apiKey: s.apiKey ?? 'unused', apiUri: s.apiUri });
      const r = await makeInvites({
        deadLetterPath: deadLetter,
        outPath: String(opts.out),
        nylas,
        ring,
        clientId: s.clientId,
        redirectUri: String(opts.redirectUri),
        queue: s.queue,
        ttlMs: days * DAY,
      }).catch((e: unknown) => {
        throw new FatalError((e as Error).message);
      });
      ctx.out.write(`${r.invited} invite(s) written to ${String(opts.out)}; ${r.skipped} dead letter(s) need another fix (not a password problem)\n`);
      ctx.setExitCode(EXIT.ok);
    });
}
