import { randomUUID } from 'node:crypto';

/** A grant as the sandbox keeps it. Secrets are kept apart and never serialised. */
export interface StoredGrant {
  id: string;
  email: string;
  grantStatus: 'valid' | 'invalid';
  /** Non-secret settings only. */
  settings: Record<string, unknown>;
  scope: string[];
  state?: string;
  ip?: string;
  userAgent?: string;
  createdAt: number;
  updatedAt: number;
}

export interface StoredConnector {
  provider: string;
  name: string;
  settings: Record<string, unknown>;
  scope: string[];
}

const SECRET_SETTING = /password|secret|token/i;

/** Drops every secret-looking key, so no code path can echo a password. */
export function publicSettings(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).filter(([k]) => !SECRET_SETTING.test(k)));
}

export function grantToWire(g: StoredGrant): Record<string, unknown> {
  return {
    id: g.id,
    provider: 'imap',
    grant_status: g.grantStatus,
    email: g.email,
    name: '',
    scope: g.scope,
    settings: publicSettings(g.settings),
    state: g.state ?? '',
    user_agent: g.userAgent ?? '',
    ip: g.ip ?? '',
    provider_user_id: g.email,
    blocked: false,
    created_at: g.createdAt,
    updated_at: g.updatedAt,
  };
}

export interface GrantListQuery {
  limit: number;
  offset: number;
  provider?: string;
  email?: string;
  grantStatus?: string;
  ip?: string;
  since?: number;
  before?: number;
  sortBy: 'created_at' | 'updated_at';
  orderBy: 'asc' | 'desc';
}

/**
 * Grants and connectors of one application. One grant per lower-cased email:
 * authenticating again re-authenticates the same grant; a deleted grant frees
 * the email, so the next authentication makes a new id.
 */
export class GrantStore {
  private readonly grants = new Map<string, StoredGrant>();
  private readonly byEmail = new Map<string, string>();
  /** Creation order, so listing is stable for paging. */
  private seq = 0;
  private readonly order = new Map<string, number>();
  readonly connectors = new Map<string, StoredConnector>();

  /** Creates or re-authenticates the grant for `email`. */
  upsert(
    email: string,
    settings: Record<string, unknown>,
    extra: { state?: string; ip?: string; userAgent?: string; scope?: string[] },
    nowSec: number,
  ): { grant: StoredGrant; created: boolean } {
    const key = email.toLowerCase();
    const existingId = this.byEmail.get(key);
    const existing = existingId ? this.grants.get(existingId) : undefined;
    if (existing) {
      existing.grantStatus = 'valid';
      existing.settings = publicSettings(settings);
      existing.updatedAt = Math.max(nowSec, existing.updatedAt + 1);
      if (extra.state !== undefined) existing.state = extra.state;
      if (extra.ip !== undefined) existing.ip = extra.ip;
      if (extra.userAgent !== undefined) existing.userAgent = extra.userAgent;
      return { grant: existing, created: false };
    }
    const grant: StoredGrant = {
      id: randomUUID(),
      email: key,
      grantStatus: 'valid',
      settings: publicSettings(settings),
      scope: extra.scope ?? [],
      state: extra.state,
      ip: extra.ip,
      userAgent: extra.userAgent,
      createdAt: nowSec,
      updatedAt: nowSec,
    };
    this.grants.set(grant.id, grant);
    this.byEmail.set(key, grant.id);
    this.order.set(grant.id, this.seq++);
    return { grant, created: true };
  }

  get(id: string): StoredGrant | undefined {
    return this.grants.get(id);
  }

  delete(id: string): boolean {
    const g = this.grants.get(id);
    if (!g) return false;
    this.grants.delete(id);
    this.order.delete(id);
    if (this.byEmail.get(g.email) === id) this.byEmail.delete(g.email);
    return true;
  }

  get size(): number {
    return this.grants.size;
  }

  list(q: GrantListQuery): StoredGrant[] {
    let all = [...this.grants.values()].filter(
      (g) =>
        (q.provider === undefined || q.provider === 'imap') &&
        (q.email === undefined || g.email === q.email.toLowerCase()) &&
        (q.grantStatus === undefined || g.grantStatus === q.grantStatus) &&
        (q.ip === undefined || g.ip === q.ip) &&
        (q.since === undefined || g.createdAt >= q.since) &&
        (q.before === undefined || g.createdAt < q.before),
    );
    const field = q.sortBy === 'updated_at' ? 'updatedAt' : 'createdAt';
    const dir = q.orderBy === 'asc' ? 1 : -1;
    all = all.sort((a, b) => dir * (a[field] - b[field] || this.order.get(a.id)! - this.order.get(b.id)!));
    return all.slice(q.offset, q.offset + q.limit);
  }

  reset(): void {
    this.grants.clear();
    this.byEmail.clear();
    this.order.clear();
    this.connectors.clear();
  }
}
