import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  fromLabelSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from './selectors.js';

describe('label selectors', () => {
  const labels = { app: 'db', tier: 'backend', canary: '' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app=db', true],
    ['app==db', true],
    ['app!=db', false],
    ['app=web', false],
    ['tier in (backend,frontend)', true],
    ['tier notin (backend)', false],
    ['missing notin (x)', true],
    ['canary', true],
    ['!canary', false],
    ['!missing', true],
    ['app=db,tier!=frontend,env notin (prod)', true],
    ['app=db, tier in (x, y)', false],
  ];
  for (const [sel, want] of cases) {
    it(`"${sel}" -> ${want}`, () => assert.equal(matchesLabels(parseLabelSelector(sel), labels), want));
  }
  it('rejects malformed terms with a 400 naming the term', () => {
    assert.throws(
      () => parseLabelSelector('a in x'),
      (err: Error & { code?: number }) => err.code === 400 && /a in x/.test(err.message),
    );
  });
  it('converts spec selectors (matchLabels and matchExpressions)', () => {
    const sel = fromLabelSelector({
      matchLabels: { app: 'db' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['backend'] },
        { key: 'gone', operator: 'DoesNotExist' },
      ],
    });
    assert.equal(matchesLabels(sel, labels), true);
    assert.equal(matchesLabels(sel, { app: 'db', tier: 'frontend' }), false);
  });
});

describe('field selectors', () => {
  const obj = { metadata: { name: 'p', namespace: 'ns' }, status: { phase: 'Running' } };
  it('matches equality and inequality on dotted paths', () => {
    assert.equal(matchesFields(parseFieldSelector('metadata.name=p'), obj), true);
    assert.equal(matchesFields(parseFieldSelector('metadata.name=q'), obj), false);
    assert.equal(
      matchesFields(parseFieldSelector('status.phase!=Pending,metadata.namespace==ns'), obj),
      true,
    );
    assert.equal(matchesFields(parseFieldSelector('spec.nodeName='), obj), true);
  });
  it('rejects malformed terms', () => {
    assert.throws(() => parseFieldSelector('metadata.name'), /invalid field selector/);
  });
});
