/**
 * Reconciliation: the CSV is the desired state, the grant list the actual
 * one. Only what is missing gets an API call.
 *
 * | found                          | action                                  |
 * | ------------------------------ | --------------------------------------- |
 * | a row with no grant            | `create` (custom auth)                  |
 * | a grant with status `invalid`  | `reauthenticate` (same grant id)        |
 * | a grant with status `valid`    | `skip`, no API call                     |
 * | a grant with no row            | orphan: listed, deleted only on request |
 */

export interface ExistingGrant {
  id: string;
  email: string;
  grantStatus: string;
}

export type PlanAction = 'create' | 'reauthenticate' | 'skip';

export interface PlannedRow {
  action: PlanAction;
  grantId?: string;
  grantStatus?: string;
}

export function planRow(existing: ExistingGrant | undefined): PlannedRow {
  if (!existing) return { action: 'create' };
  if (existing.grantStatus === 'valid') return { action: 'skip', grantId: existing.id, grantStatus: 'valid' };
  // Anything but valid (invalid, or a status this version does not know) is re-authenticated in place.
  return { action: 'reauthenticate', grantId: existing.id, grantStatus: existing.grantStatus };
}

/** Grants whose email no row of the CSV names. */
export function findOrphans(grants: Iterable<ExistingGrant>, wanted: ReadonlySet<string>): ExistingGrant[] {
  const out: ExistingGrant[] = [];
  for (const g of grants) if (!wanted.has(g.email.toLowerCase())) out.push(g);
  return out;
}

/**
 * Indexes the grant list by lower-cased email. Nylas keeps one grant per
 * email; if a list ever shows two, the valid one wins, so a row that has a
 * working grant is never re-authenticated because of a stale twin.
 */
export function indexGrants(grants: Iterable<ExistingGrant>): Map<string, ExistingGrant> {
  const byEmail = new Map<string, ExistingGrant>();
  for (const g of grants) {
    const key = g.email.toLowerCase();
    const seen = byEmail.get(key);
    if (!seen || (seen.grantStatus !== 'valid' && g.grantStatus === 'valid')) byEmail.set(key, g);
  }
  return byEmail;
}
