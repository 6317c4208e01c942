import { describe, expect, it } from 'vitest';
import { findOrphans, indexGrants, planRow } from '../../src/core/reconcile-plan.js';

describe('planRow', () => {
  it.each([
    { name: 'no grant', existing: undefined, want: { action: 'create' } },
    { name: 'valid grant', existing: { id: 'g1', email: 'a@x.io', grantStatus: 'valid' }, want: { action: 'skip', grantId: 'g1', grantStatus: 'valid' } },
    { name: 'invalid grant', existing: { id: 'g2', email: 'a@x.io', grantStatus: 'invalid' }, want: { action: 'reauthenticate', grantId: 'g2', grantStatus: 'invalid' } },
    { name: 'unknown status', existing: { id: 'g3', email: 'a@x.io', grantStatus: 'expired' }, want: { action: 'reauthenticate', grantId: 'g3', grantStatus: 'expired' } },
  ])('$name', ({ existing, want }) => expect(planRow(existing)).toEqual(want));
});

describe('findOrphans and indexGrants', () => {
  const grants = [
    { id: '1', email: 'A@x.io', grantStatus: 'valid' },
    { id: '2', email: 'b@x.io', grantStatus: 'invalid' },
    { id: '3', email: 'c@x.io', grantStatus: 'valid' },
  ];
  it.each([
    { wanted: ['a@x.io', 'b@x.io', 'c@x.io'], orphans: [] },
    { wanted: ['a@x.io'], orphans: ['2', '3'] },
    { wanted: [], orphans: ['1', '2', '3'] },
  ])('wanted $wanted → orphans $orphans', ({ wanted, orphans }) => {
    expect(findOrphans(grants, new Set(wanted)).map((g) => g.id)).toEqual(orphans);
  });

  it('keys by lower-cased email and prefers a valid twin', () => {
    const idx = indexGrants([...grants, { id: '4', email: 'b@X.io', grantStatus: 'valid' }]);
    expect(idx.get('a@x.io')?.id).toBe('1');
    expect(idx.get('b@x.io')?.id).toBe('4');
    expect(indexGrants([{ id: '5', email: 'd@x.io', grantStatus: 'valid' }, { id: '6', email: 'd@x.io', grantStatus: 'invalid' }]).get('d@x.io')?.id).toBe('5');
  });
});
