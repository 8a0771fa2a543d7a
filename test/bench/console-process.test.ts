/**
 * The console reader shared by bench:io's ConsoleVm and the integration tests' GuestVm,
 * against small shell processes standing in for a VMM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ConsoleExitedError, ConsoleProcess, killOnExit } from '../../src/guest/harness/console-process.js';

function shell(script: string): ConsoleProcess {
  const child = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  killOnExit(child);
  return new ConsoleProcess(child, 'fake-vmm');
}

test('waitFor finds a pattern printed in pieces, only after `from`, and what was printed before it was called', async () => {
  const p = shell(`printf 'boot...'; sleep 0.1; printf 'ready\\n'; read line; printf '%s done\\n' "$line"; read _`);
  const ready = await p.waitFor(/ready/, 5000);
  assert.equal(ready.index, 'boot...'.length);
  const from = p.output.length;
  p.write('ready again\n');
  const echoed = await p.waitFor(/(\w+ again) done/, 5000, from);
  assert.equal(echoed[1], 'ready again');
  assert.ok((await p.waitFor(/boot/, 10)).length === 1, 'already printed: resolves at once');
  p.write('\n');
  assert.equal(await p.exited, 0);
});

test('waitFor rejects with ConsoleExitedError naming the process when it exits first, with its stderr', async () => {
  const p = shell(`echo 'no virtio here' >&2; exit 3`);
  await assert.rejects(p.waitFor(/never/, 60_000), (e: unknown) =>
    e instanceof ConsoleExitedError && /^fake-vmm exited \(3\) while waiting for \/never\//.test(e.message) && e.message.includes('no virtio here'));
  assert.equal(p.running, false);
});

test('waitFor times out with the console tail; a later exit does not reject again', async () => {
  const p = shell(`printf 'still booting'; sleep 0.3`);
  await assert.rejects(p.waitFor(/ready/, 100), /fake-vmm: timed out after 100 ms waiting for \/ready\/; console tail:\nstill booting/);
  assert.equal(await p.exited, 0);
});
