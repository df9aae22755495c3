/**
 * A tiny engine for exercising the local platform without a database: each member is a Node.js
 * process that listens on its `main` port and answers every connection with its version label.
 * Used by the platform's tests; also handy for other tests that need cheap local members.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { LocalEngineAdapter, LocalMemberLayout } from '../../src/platforms/local/adapter.js';
import { pickBinary } from '../../src/platforms/local/binaries.js';

/** Behaviour switches of {@link createTestAdapter}. */
export interface TestAdapterOptions {
  /** Versions it pretends are installed (all run the current Node.js binary). Default 1.0.0, 1.1.0. */
  versions?: string[];
  /** Members ignore SIGTERM, so a graceful stop always ends in SIGKILL. */
  ignoreTerm?: boolean;
  /** Members exit with code 3 right after starting. */
  crashOnStart?: boolean;
  /** Ping always fails, as for a member that never becomes ready. */
  neverReady?: boolean;
  /** Start order; default parallel. */
  startOrder?: 'parallel' | 'sequential';
  /** Run members as this user (honoured only when running as root). */
  runAsUser?: string;
}

const SERVER = `
const net = require('node:net');
const [port, label, ignoreTerm, crash] = process.argv.slice(1);
if (crash === '1') { console.error('test member: crashing on purpose'); process.exit(3); }
if (ignoreTerm === '1') process.on('SIGTERM', () => console.error('test member: ignoring SIGTERM'));
net.createServer((s) => s.end(label + '\\n')).listen(Number(port), '127.0.0.1', () => console.error('test member listening on ' + port + ' as ' + label));
`;

/** Ask a test member for its version label; undefined when it does not answer within 1 s. */
export function askVersion(member: LocalMemberLayout): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host: member.host, port: member.ports.main as number });
    let data = '';
    const done = (v: string | undefined) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(1000, () => done(undefined));
    sock.on('data', (d) => (data += d.toString()));
    sock.on('end', () => done(data.trim() || undefined));
    sock.on('error', () => done(undefined));
  });
}

/** A {@link LocalEngineAdapter} named `test` whose members are small Node.js TCP servers. */
export function createTestAdapter(opts: TestAdapterOptions = {}): LocalEngineAdapter {
  const installed = Object.fromEntries(
    (opts.versions ?? ['1.0.0', '1.1.0']).map((v) => [v, process.execPath]),
  );
  const all = (registered: Record<string, string>) => ({ ...installed, ...registered });
  return {
    engine: 'test',
    portNames: ['main', 'aux'],
    endpointPort: 'main',
    startOrder: opts.startOrder ?? 'parallel',
    async installedVersions(ctx) {
      return Object.keys(all(ctx.registeredBinaries)).sort();
    },
    async binaries(version, ctx) {
      return { version, paths: { server: pickBinary('test', version, all(ctx.registeredBinaries)) } };
    },
    async initMember(member, version) {
      await mkdir(member.dataDir, { recursive: true });
      await writeFile(join(member.dataDir, 'created-with'), version);
    },
    async launch(member, version, _settings, ctx) {
      return {
        command: pickBinary('test', version, all(ctx.registeredBinaries)),
        args: [
          '-e',
          SERVER,
          String(member.ports.main),
          version,
          opts.ignoreTerm ? '1' : '0',
          opts.crashOnStart ? '1' : '0',
        ],
        cwd: member.dataDir,
        ...(opts.runAsUser ? { runAsUser: opts.runAsUser } : {}),
      };
    },
    async ping(member) {
      if (opts.neverReady) return false;
      return (await askVersion(member)) !== undefined;
    },
  };
}
