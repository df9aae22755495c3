import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { ApiError } from './errors.js';

describe('mergePatch (RFC 7386)', () => {
  const cases: [string, unknown, unknown, unknown][] = [
    ['adds and replaces keys', { a: 1, b: 2 }, { b: 3, c: 4 }, { a: 1, b: 3, c: 4 }],
    ['null deletes', { a: 1, b: 2 }, { a: null }, { b: 2 }],
    ['arrays replace', { l: [1, 2, 3] }, { l: [4] }, { l: [4] }],
    ['nested objects merge', { m: { x: 1, y: 2 } }, { m: { y: null, z: 3 } }, { m: { x: 1, z: 3 } }],
    ['a non-object patch replaces', { a: 1 }, 'x', 'x'],
  ];
  for (const [name, target, patch, want] of cases) {
    it(name, () => assert.deepEqual(mergePatch(target, patch), want));
  }
  it('does not modify its inputs', () => {
    const target = { m: { x: 1 } };
    mergePatch(target, { m: { x: 2 } });
    assert.deepEqual(target, { m: { x: 1 } });
  });
});

describe('jsonPatch (RFC 6902)', () => {
  it('applies add, remove, replace, move, copy and test', () => {
    const doc = { a: { b: 1 }, l: [1, 2], s: 'x' };
    const out = jsonPatch(doc, [
      { op: 'add', path: '/l/1', value: 9 },
      { op: 'add', path: '/l/-', value: 7 },
      { op: 'replace', path: '/a/b', value: 2 },
      { op: 'copy', from: '/a', path: '/c' },
      { op: 'move', from: '/s', path: '/t' },
      { op: 'remove', path: '/l/0' },
      { op: 'test', path: '/c/b', value: 2 },
      { op: 'add', path: '/k~1x', value: true },
    ]);
    assert.deepEqual(out, { a: { b: 2 }, l: [9, 2, 7], c: { b: 2 }, t: 'x', 'k/x': true });
    assert.deepEqual(doc, { a: { b: 1 }, l: [1, 2], s: 'x' });
  });
  it('fails a test operation or a missing path with 422, a malformed patch with 400', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        assert.ok(err instanceof ApiError);
        return err.code;
      }
      assert.fail('expected an ApiError');
    };
    assert.equal(
      code(() => jsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }])),
      422,
    );
    assert.equal(
      code(() => jsonPatch({ a: 1 }, [{ op: 'remove', path: '/b' }])),
      422,
    );
    assert.equal(
      code(() => jsonPatch({ a: 1 }, [{ op: 'replace', path: '/b', value: 1 }])),
      422,
    );
    assert.equal(
      code(() => jsonPatch({ a: 1 }, { op: 'add' })),
      400,
    );
    assert.equal(
      code(() => jsonPatch({ a: 1 }, [{ op: 'frobnicate', path: '/a' }])),
      400,
    );
  });
});

describe('strategicMergePatch (approximation)', () => {
  const pod = {
    spec: {
      containers: [
        { name: 'a', image: 'a:1', env: [{ name: 'X', value: '1' }], ports: [{ containerPort: 80 }] },
        { name: 'b', image: 'b:1' },
      ],
      volumes: [{ name: 'v1', emptyDir: {} }],
      tolerations: [{ key: 't1' }],
    },
    metadata: { finalizers: ['f1'] },
  };
  it('merges containers, env, ports and volumes by key', () => {
    const out = strategicMergePatch(pod, {
      spec: {
        containers: [
          { name: 'a', image: 'a:2', env: [{ name: 'Y', value: '2' }], ports: [{ containerPort: 81 }] },
        ],
        volumes: [{ name: 'v2', emptyDir: {} }],
      },
    }) as typeof pod;
    assert.deepEqual(
      out.spec.containers.map((c) => c.image),
      ['a:2', 'b:1'],
    );
    assert.deepEqual(
      out.spec.containers[0]!.env!.map((e) => e.name),
      ['X', 'Y'],
    );
    assert.deepEqual(
      out.spec.containers[0]!.ports!.map((p) => p.containerPort),
      [80, 81],
    );
    assert.deepEqual(
      out.spec.volumes.map((v) => v.name),
      ['v1', 'v2'],
    );
  });
  it('replaces lists without a merge key and unions finalizers', () => {
    const out = strategicMergePatch(pod, {
      spec: { tolerations: [{ key: 't2' }] },
      metadata: { finalizers: ['f2'] },
    }) as typeof pod;
    assert.deepEqual(out.spec.tolerations, [{ key: 't2' }]);
    assert.deepEqual(out.metadata.finalizers, ['f1', 'f2']);
  });
  it('honours $patch: delete, $patch: replace and $deleteFromPrimitiveList', () => {
    const out = strategicMergePatch(pod, {
      spec: {
        containers: [{ name: 'b', $patch: 'delete' }],
        volumes: [{ $patch: 'replace' }, { name: 'only' }],
      },
      metadata: { '$deleteFromPrimitiveList/finalizers': ['f1'] },
    }) as typeof pod;
    assert.deepEqual(
      out.spec.containers.map((c) => c.name),
      ['a'],
    );
    assert.deepEqual(out.spec.volumes, [{ name: 'only' }]);
    assert.deepEqual(out.metadata.finalizers, []);
    const replaced = strategicMergePatch({ m: { a: 1, b: 2 } }, { m: { $patch: 'replace', c: 3 } });
    assert.deepEqual(replaced, { m: { c: 3 } });
  });
  it('service ports merge by port', () => {
    const out = strategicMergePatch(
      { spec: { ports: [{ port: 80, name: 'http' }] } },
      { spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } },
    );
    assert.deepEqual(out, { spec: { ports: [{ port: 80, name: 'http', targetPort: 8080 }, { port: 443 }] } });
  });
});
