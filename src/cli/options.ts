import { InvalidArgumentError, Option, type Command } from 'commander';
import { SETTINGS, maskSecret, type SettingName } from '../config/settings.js';

/**
 * Declares settings as flags. Defaults are shown, not set: an absent flag
 * must fall through to the environment variable before the default.
 */
export function addSettings(cmd: Command, names: readonly SettingName[], env: NodeJS.ProcessEnv = process.env): Command {
  for (const name of names) {
    const s = SETTINGS[name];
    const parts = [s.description];
    if (s.env) {
      const current = env[s.env];
      const shown = current ? ('secret' in s && s.secret ? maskSecret(current) : current) : undefined;
      parts.push(`env ${s.env}${shown ? ` = ${shown}` : ''}`);
    }
    if (s.default !== undefined) parts.push(`default ${String(s.default)}`);
    cmd.addOption(new Option(`${s.flag}${'arg' in s && s.arg ? ` ${s.arg}` : ''}`, parts.join('; ')));
  }
  return cmd;
}

/** Parses a whole number in [min, max]; commander names the option in its error. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got "${v}"`);
    }
    return n;
  };
}

/** A `--port` option: an integer from 0 (any free port) to 65535. */
export function portOption(defaultPort: number, description = 'port to listen on'): Option {
  return new Option('--port <port>', description).argParser(intArg(0, 65535)).default(defaultPort);
}
