import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderDashboard, type DashboardView } from '../../src/demo/dashboard.js';

const INFO_FT = [
  'FT role: primary, state: protected, peer 127.0.0.1:4441',
  'epoch: 812 (length 5000 us, ends early at 2048 dirty pages), acknowledged: 811, in flight: 1',
  'last epoch: 130 dirty pages, 540000 bytes; total 812 epochs, 4000000 bytes, 0 ended early',
  'pause: p50 1100 us, p99 9000 us',
  'held output: 1 packets (66 bytes), 0 disk writes',
  'verify: off',
  'lease: /tmp/x/ft.lease held by primary (token 3)',
  'heartbeat: every 10 ms, silence limit 1000 ms; backup last heard 3 ms ago',
].join('\n') + '\n';

function view(over: Partial<DashboardView> = {}): DashboardView {
  return {
    backend: 'kvm_pvm',
    service: '10.0.0.2:7000',
    client: { answers: 30, counter: 20, written: 10, lastRttMs: 61.4, maxRttMs: 300.2, lastAnswerAt: 9000, bad: null, closed: null },
    now: 10_000,
    serving: { name: 'primary', pid: 100, tap: 't0', infoFt: INFO_FT, monitor: '/tmp/p/hmp.sock' },
    backup: { name: 'backup', pid: 101, tap: 't1', infoFt: 'FT role: backup, state: waiting\n', monitor: '/tmp/b/hmp.sock' },
    events: [],
    message: '',
    ...over,
  };
}

test('the dashboard shows the service, the client verdict, both VMMs\' info ft and the kill command', () => {
  const text = renderDashboard(view()).join('\n');
  assert.match(text, /guest service 10\.0\.0\.2:7000/);
  assert.match(text, /30 answers \(counter 20, 10 fsync'ed records\), last 1\.0 s ago, round trip 61 ms \(max 300 ms\)/);
  assert.match(text, /nothing lost/);
  assert.match(text, /serving: primary, pid 100, tap t0 .*nc -U \/tmp\/p\/hmp\.sock/);
  assert.match(text, /    FT role: primary, state: protected/);
  assert.match(text, /    pause: p50 1100 us/);
  assert.match(text, /    lease: .*held by primary/);
  assert.doesNotMatch(text, /verify: off|heartbeat:/, 'only the lines worth a glance');
  assert.match(text, /backup : backup, pid 101/);
  assert.match(text, /kill -9 100/);
});

test('the dashboard says when the VM is unprotected, a VMM is frozen, or state was lost', () => {
  const lost = view({
    backup: undefined,
    former: { name: 'primary', pid: 100, tap: 't0', infoFt: '', frozen: true, monitor: '/m' },
    client: { ...view().client, bad: 'after counter 20 the guest answered "C 20"' },
    events: [{ at: new Date(2026, 10, 26, 12, 0, 5), text: 'kill -9 of the primary' }],
    message: 'nothing to fail over to',
  });
  const text = renderDashboard(lost).join('\n');
  assert.match(text, /backup : none: the VM is NOT protected/);
  assert.match(text, /former : primary, pid 100, tap t0 \(FROZEN: SIGSTOP\)/);
  assert.match(text, /monitor not answering/);
  assert.match(text, /ACKNOWLEDGED STATE LOST: after counter 20/);
  assert.match(text, /12:00:05  kill -9 of the primary/);
  assert.match(text, /  nothing to fail over to/);
});
