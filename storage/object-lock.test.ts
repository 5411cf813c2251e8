import assert from 'node:assert/strict';
import { test } from 'node:test';
import { removalRefusal, retentionChangeRefusal } from './object-lock.ts';

const NOW = 1_000_000;

test('removal: legal hold always refuses; COMPLIANCE until its date; GOVERNANCE yields to a bypass', {
  timeout: 5_000,
}, () => {
  const gov = { mode: 'GOVERNANCE' as const, retainUntilMs: NOW + 1 };
  const comp = { mode: 'COMPLIANCE' as const, retainUntilMs: NOW + 1 };
  assert.equal(removalRefusal({}, NOW, false), undefined);
  assert.equal(removalRefusal({ legalHold: true }, NOW, true)?.code, 'AccessDenied');
  assert.equal(removalRefusal({ retention: comp }, NOW, true)?.code, 'AccessDenied');
  assert.equal(removalRefusal({ retention: gov }, NOW, false)?.code, 'AccessDenied');
  assert.equal(removalRefusal({ retention: gov }, NOW, true), undefined);
  assert.equal(
    removalRefusal({ retention: { ...comp, retainUntilMs: NOW } }, NOW, false),
    undefined,
    'expired',
  );
});

test('retention changes: extend freely; shorten, weaken or remove only an expired or bypassed GOVERNANCE one', {
  timeout: 5_000,
}, () => {
  const gov = { mode: 'GOVERNANCE' as const, retainUntilMs: NOW + 100 };
  const comp = { mode: 'COMPLIANCE' as const, retainUntilMs: NOW + 100 };
  assert.equal(retentionChangeRefusal(undefined, comp, NOW, false), undefined);
  assert.equal(retentionChangeRefusal(gov, { ...gov, retainUntilMs: NOW + 200 }, NOW, false), undefined);
  assert.equal(
    retentionChangeRefusal(gov, comp, NOW, false),
    undefined,
    'GOVERNANCE to COMPLIANCE strengthens',
  );
  assert.equal(
    retentionChangeRefusal(gov, { ...gov, retainUntilMs: NOW + 50 }, NOW, false)?.code,
    'AccessDenied',
  );
  assert.equal(retentionChangeRefusal(gov, null, NOW, false)?.code, 'AccessDenied');
  assert.equal(retentionChangeRefusal(gov, null, NOW, true), undefined);
  assert.equal(retentionChangeRefusal(comp, gov, NOW, true)?.code, 'AccessDenied');
  assert.equal(retentionChangeRefusal(comp, null, NOW, true)?.code, 'AccessDenied');
  assert.equal(
    retentionChangeRefusal(comp, { ...comp, retainUntilMs: NOW + 99 }, NOW, true)?.code,
    'AccessDenied',
  );
  assert.equal(
    retentionChangeRefusal({ ...comp, retainUntilMs: NOW }, null, NOW, false),
    undefined,
    'expired',
  );
});
