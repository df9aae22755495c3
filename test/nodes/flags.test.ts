/**
 * The CLI flags that write a nodes target (src/cli/nodes-flags.ts): what each writes, and the bad
 * combinations refused with one line naming the flag.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodesTargetFromFlags } from '../../src/cli/nodes-flags.js';
import { BadInputError } from '../../src/core/errors.js';

const ENGINE = { engine: 'kubernetes-nodes', to: 'v1.37.2' };

function refused(f: Parameters<typeof nodesTargetFromFlags>[0], message: RegExp): void {
  assert.throws(
    () => nodesTargetFromFlags(f),
    (err: unknown) => err instanceof BadInputError && message.test(err.message),
  );
}

describe('node flags', () => {
  it('write the control plane, pools in order, via, the job actuator and drain options', () => {
    assert.deepEqual(
      nodesTargetFromFlags({
        ...ENGINE,
        controlPlaneSelector: 'role=cp',
        pool: ['general=pool=general', 'gpu=pool=gpu,!spot'],
        via: ['v1.36.4'],
        jobImage: 'kubeadm:1',
        jobCommand: ['/upgrade.sh', '--yes'],
        jobEnv: ['A=1'],
        jobNamespace: 'kube-upgrade',
        privileged: true,
        gracePeriod: '30',
        deletePodsWithoutController: true,
        evictLocalStorage: true,
      }),
      {
        controlPlane: { selector: 'role=cp' },
        pools: [
          { name: 'general', selector: 'pool=general' },
          { name: 'gpu', selector: 'pool=gpu,!spot' },
        ],
        via: ['v1.36.4'],
        actuator: {
          type: 'job',
          job: {
            image: 'kubeadm:1',
            command: ['/upgrade.sh', '--yes'],
            env: [{ name: 'A', value: '1' }],
            namespace: 'kube-upgrade',
            privileged: true,
          },
        },
        drain: { gracePeriodSeconds: 30, podsWithoutController: 'delete', localStorage: 'evict' },
      },
    );
  });

  it('write the replace actuator with its machine-deletion command', () => {
    assert.deepEqual(
      nodesTargetFromFlags({
        ...ENGINE,
        actuator: 'replace',
        replaceImage: 'cloud:1',
        replaceCommand: ['delete-vm'],
      }),
      { actuator: { type: 'replace', replace: { image: 'cloud:1', command: ['delete-vm'] } } },
    );
  });

  it('write nothing without the node engine or anything node-specific', () => {
    assert.equal(nodesTargetFromFlags({ engine: 'etcd', to: '3.5.0' }), undefined);
    assert.equal(nodesTargetFromFlags({ engine: 'kubernetes-nodes' }), undefined);
  });

  it('refuse bad combinations naming the flag', () => {
    refused(
      { engine: 'etcd', pool: ['a=b'] },
      /--pool describes a node upgrade: add --engine kubernetes-nodes/,
    );
    refused(ENGINE, /needs an actuator: --job-image IMAGE/);
    refused({ ...ENGINE, actuator: 'job' }, /--actuator job needs --job-image/);
    refused({ ...ENGINE, actuator: 'replace', jobImage: 'x' }, /--job-image is for --actuator job/);
    refused({ ...ENGINE, jobImage: 'x', replaceImage: 'y' }, /--replace-image is for --actuator replace/);
    refused(
      { ...ENGINE, actuator: 'replace', replaceCommand: ['rm'] },
      /--replace-command needs --replace-image/,
    );
    refused({ ...ENGINE, jobImage: 'x', pool: ['a=x=1', 'a=x=2'] }, /--pool a is given twice/);
    refused({ ...ENGINE, jobImage: 'x', pool: ['Bad=x'] }, /--pool Bad=x/);
    refused({ ...ENGINE, jobImage: 'x', controlPlaneSelector: 'a=1,b=2' }, /several terms.*--pool/);
  });
});
