import { createNylasClient, type NylasClient } from '../../src/nylas/sdk.js';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.js';

export const TEST_API_KEY = 'nyk_test_0123456789abcdef';

export async function sandboxWithClient(
  opts: Partial<SandboxOptions> = {},
  clientOpts: { timeout?: number } = {},
): Promise<{ sandbox: RunningSandbox; nylas: NylasClient }> {
  const sandbox = await startSandbox({ apiKey: TEST_API_KEY, port: 0, providerTimeoutMs: 2_000, ...opts });
  const nylas = createNylasClient({ apiKey: TEST_API_KEY, apiUri: sandbox.url, ...clientOpts });
  return { sandbox, nylas };
}

/** Raw call, for what the SDK hides (headers, bodies). */
export async function raw(sandbox: RunningSandbox, path: string, init: RequestInit = {}, key = TEST_API_KEY) {
  const res = await fetch(`${sandbox.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  const text = await res.text();
  return { res, text, json: JSON.parse(text) as Record<string, any> };
}
