// The watchdog of one test control plane (started by controlplane.ts, in its own process group).
// Arguments: the control plane's directory and `keep` or `remove`. Its stdin is a pipe from the
// process that started the control plane: one line `<pid> <program>` per component, then
// `release` when that process stopped everything itself. If the pipe ends without `release` (the
// starter was killed), every listed process that is still that program is sent SIGKILL and, unless
// `keep`, the directory is removed once they are gone. It never touches any other process.
import { readFileSync, rmSync } from 'node:fs';
import { setTimeout } from 'node:timers';

const [dir, keep] = process.argv.slice(2);
const watched = new Map();
let released = false;
let pending = '';

// A signal to the test run's process group must not end the watchdog before it has reaped.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => undefined);

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (line === 'release') released = true;
    else {
      const space = line.indexOf(' ');
      if (space > 0) watched.set(Number(line.slice(0, space)), line.slice(space + 1));
    }
  }
});
process.stdin.on('error', reap);
process.stdin.on('end', reap);

/** True while `pid` is alive and still runs `program` (a PID reused by another program is not ours). */
function stillOurs(pid, program) {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return argv0 === program;
  } catch {
    return false;
  }
}

function reap() {
  if (released) process.exit(0);
  const ours = [...watched].filter(([pid, program]) => stillOurs(pid, program));
  for (const [pid] of ours) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000;
  const finish = () => {
    if (ours.some(([pid, program]) => stillOurs(pid, program)) && Date.now() < deadline) {
      setTimeout(finish, 50);
      return;
    }
    if (keep !== 'keep') rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    process.exit(0);
  };
  finish();
}
