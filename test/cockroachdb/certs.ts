/**
 * Certificates for a secure CockroachDB double, made with Debian's `openssl` the way `cockroach
 * cert` lays them out (docs "cockroach cert"; the operator's and Helm chart's Secrets hold the same
 * files): a CA (`ca.crt`), a node certificate (`node.crt`/`node.key`) valid for the addresses the
 * double listens on (127.0.0.1, localhost), and a client certificate for `root`
 * (`client.root.crt`/`client.root.key`, CN=root: CockroachDB maps the CN to the SQL user). A second,
 * unrelated CA signs a `root` certificate the cluster must refuse. P-256 keys keep it quick.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM texts of one secure cluster's certificates. */
export interface CockroachCerts {
  ca: string;
  nodeCert: string;
  nodeKey: string;
  clientCert: string;
  clientKey: string;
  /** A `root` client certificate signed by another CA. */
  strangerCert: string;
  strangerKey: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function newCa(dir: string, name: string): Promise<void> {
  await openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/O=Cockroach/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,digitalSignature',
  );
}

async function signed(dir: string, ca: string, name: string, cn: string, ext: string): Promise<void> {
  await openssl(
    dir,
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    // A client certificate's subject is the CN alone: pg-gateway reads the user from a
    // comma-separated subject, and Node prints multi-part subjects one part per line.
    ext.includes('serverAuth') ? `/O=Cockroach/CN=${cn}` : `/CN=${cn}`,
  );
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

/** Make a CA, a node certificate for 127.0.0.1/localhost and a `root` client certificate. */
export async function makeCockroachCerts(): Promise<CockroachCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-crdb-certs-'));
  try {
    await newCa(dir, 'ca');
    await newCa(dir, 'other-ca');
    await signed(
      dir,
      'ca',
      'node',
      'node',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n',
    );
    const client = 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n';
    await signed(dir, 'ca', 'client.root', 'root', client);
    await signed(dir, 'other-ca', 'stranger', 'root', client);
    const read = (f: string) => readFile(join(dir, f), 'utf8');
    return {
      ca: await read('ca.crt'),
      nodeCert: await read('node.crt'),
      nodeKey: await read('node.key'),
      clientCert: await read('client.root.crt'),
      clientKey: await read('client.root.key'),
      strangerCert: await read('stranger.crt'),
      strangerKey: await read('stranger.key'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
