/** Demo mailboxes: address → password. Passwords exercise quoting and UTF-8 on purpose. */
export const DEMO_MAILBOXES: Readonly<Record<string, string>> = {
  'alice@demo.test': 'alice-secret',
  'bob@demo.test': 'b0b, "quoted" pass',
  'carol@demo.test': 'café-naïve-密码',
  'dave@demo.test': 'dave-secret',
  'erin@demo.test': 'erin-secret',
};
