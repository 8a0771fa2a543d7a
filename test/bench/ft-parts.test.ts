/** bench:ft's pure parts: trace and report parsing, window summaries, the target verdicts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FtPrimary } from '../../src/ft/primary.js';
import { FtBackup } from '../../src/ft/backup.js';
import { Machine } from '../../src/vm/machine.js';
import { DirtyTracker } from '../../src/memory/dirty-tracker.js';
import { VmFd } from '../../src/kvm/vm-fd.js';
import { commitSummary, parseAcks, parseBackupTrace, parseEpochs, summarizeWindow } from '../../bench/ft/epoch-trace.js';
import { percentile } from '../../bench/ft/percentiles.js';
import { achievedRate, parseReports } from '../../bench/ft/workload.js';
import { parseStatus } from '../../bench/ft/process-memory.js';
import { maxJsMemory, parseJsMemory } from '../../bench/ft/backup-memory.js';
import { parseBytesReceived } from '../../bench/ft/tcp-bytes.js';
import { targets, fullReport, rttTable, type Results, type DirtyResult } from '../../bench/ft/report.js';
import type { WindowSummary } from '../../bench/ft/epoch-trace.js';
import { coreShare, parseThreadStat } from '../../bench/ft/process-cpu.js';

test('the methods the pause-trace preload wraps exist (a rename would silently drop the breakdown)', () => {
  const has = (proto: object, name: string) => assert.equal(typeof (proto as Record<string, unknown>)[name], 'function', name);
  has(FtPrimary.prototype, 'takeEpoch');
  has(FtPrimary.prototype, 'onAck');
  has(Machine.prototype, 'parkForEpoch');
  has(Machine.prototype, 'resumeAfterEpoch');
  has(DirtyTracker.prototype, 'harvest');
  has(VmFd.prototype, 'getDirtyLog');
  has(VmFd.prototype, 'clearDirtyLog');
  has(FtBackup.prototype, 'commit');
  has(FtBackup.prototype, 'run');
  has(FtBackup.prototype, 'takeOver');
});

const TRACE = [
  'cuju: fault tolerance on',
  'cuju-ft-epoch 1000.500 e=1 pages=10 park=50 get=20 clear=? harvest=30 copy=5 vcpu=100 vmstate=40 rest=10 resume=8 pause=250 total=260',
  'cuju-ft-epoch 1006.000 e=2 pages=1000 park=60 get=25 clear=120 harvest=160 copy=400 vcpu=110 vmstate=45 rest=12 resume=9 pause=800 total=810',
  'cuju-ft-ack 1007.000 e=1 us=6000',
  'cuju-ft-epoch 1012.000 e=3 pages=? park=? get=? clear=? harvest=? copy=? vcpu=? vmstate=? rest=? resume=? pause=? total=900',
  'cuju-ft-ack 1013.000 e=2 us=7000',
  'cuju-ft-ack 1014.000 e=3 us=2000',
].join('\n');

test('epoch trace lines parse, with ? for steps not seen', () => {
  const epochs = parseEpochs(TRACE);
  assert.equal(epochs.length, 3);
  assert.deepEqual(epochs[0], {
    wallMs: 1000.5, epoch: 1, pages: 10,
    us: { park: 50, get: 20, harvest: 30, copy: 5, vcpu: 100, vmstate: 40, rest: 10, resume: 8, pause: 250, total: 260 },
  });
  assert.equal(epochs[2].pages, undefined);
  assert.deepEqual(epochs[2].us, { total: 900 });
  assert.deepEqual(parseAcks(TRACE).map((a) => [a.epoch, a.us]), [[1, 6000], [2, 7000], [3, 2000]]);
});

test('a window summary takes only epochs that began inside it, and their acks; a missing clear counts as 0', () => {
  const s = summarizeWindow(parseEpochs(TRACE), parseAcks(TRACE), 1001, 1020);
  assert.equal(s.epochs, 2);
  assert.equal(s.pagesMean, 1000);
  assert.equal(s.steps.total?.p50, 900);
  assert.equal(s.steps.pause?.p50, 800, 'epoch 3 has no pause figure and is left out of it');
  assert.deepEqual(s.ackUs && [s.ackUs.p50, s.ackUs.p99], [7000, 7000]);
  const all = summarizeWindow(parseEpochs(TRACE), parseAcks(TRACE), 0, 2000);
  assert.equal(all.steps.clear?.p50, 0);
  assert.equal(all.steps.clear?.p99, 120);
  assert.equal(summarizeWindow([], [], 0, 1).epochs, 0);
});

test('backup trace lines: commit times per epoch, when the loss was seen and how long takeOver took', () => {
  const text = 'cuju: x\ncuju-ft-commit 100.5 e=1 us=300\ncuju-ft-commit 106.5 e=2 us=900\ncuju-ft-lost 200.25\ncuju-ft-takeover 203.5 us=3100\n';
  const t = parseBackupTrace(text);
  assert.deepEqual(t.commits.map((c) => [c.epoch, c.us]), [[1, 300], [2, 900]]);
  assert.equal(t.lostAt, 200.25);
  assert.equal(t.takeOverAt, 203.5);
  assert.equal(t.takeOverUs, 3100);
  assert.deepEqual(commitSummary(t, new Set([2])), { p50: 900, p99: 900, mean: 900 });
  assert.equal(commitSummary(t, new Set([7])), undefined);
  assert.equal(parseBackupTrace('').lostAt, undefined);
});

test('percentile is nearest-rank like FtStats (p50 of 1..4 is 3; p99 of 100 values is the largest)', () => {
  assert.equal(percentile([4, 1, 3, 2], 50), 3);
  assert.equal(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99), 100);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('cuju-dirty reports: the first one in a window is left out (it began before the window)', () => {
  const out = 'x\r\ncuju-dirty: 9999 pages written in 1.00 s (9999 pages/s)\r\n' +
    'cuju-dirty: 20000 pages written in 1.00 s (20000 pages/s)\r\ncuju-dirty: 10000 pages written in 0.50 s (20000 pages/s)\r\n';
  assert.equal(parseReports(out).length, 3);
  assert.equal(achievedRate(out), 20000);
  assert.ok(Number.isNaN(achievedRate('cuju-dirty: 5 pages written in 1.00 s (5 pages/s)')));
});

test('/proc/PID/status and ss -ti figures', () => {
  const status = 'Name:\tnode\nVmRSS:\t  204800 kB\nRssAnon:\t   51200 kB\nRssFile:\t   20480 kB\nRssShmem:\t  133120 kB\n';
  assert.deepEqual(parseStatus(status), { rss: 200 * 1048576, anon: 50 * 1048576, file: 20 * 1048576, shmem: 130 * 1048576 });
  assert.throws(() => parseStatus('Name: x\n'), /VmRSS/);
  const ss = 'ESTAB 0 0 127.0.0.1:4441 127.0.0.1:5555\n\t cubic bytes_sent:10 bytes_acked:10 bytes_received:123456 segs_out:3\n';
  assert.equal(parseBytesReceived(ss), 123456);
  assert.equal(parseBytesReceived(''), 0);
});

const window = (pagesMean: number): WindowSummary => ({ epochs: 2048, numbers: new Set(), pagesMean, pagesP50: pagesMean, steps: {} });
const dirty = (target: number | undefined, pagesMean: number, pauseP99: number): DirtyResult => ({
  name: `≈${target}`, target, rate: target === undefined ? undefined : target * 200, pauseP50: pauseP99 / 2, pauseP99, histogramEpochs: 2048,
  epochsPerSec: 180, pageBytesPerEpoch: pagesMean * 4096, wireBytesPerEpoch: pagesMean * 4100, protectedRate: 1, unprotectedRate: 1, trace: window(pagesMean), backupRss: 140 * 1048576,
});

function results(over: Partial<Results> = {}): Results {
  return {
    date: '2026-11-26', epochUs: 5000, protectMs: 3000,
    dirty: [dirty(undefined, 3, 300), dirty(100, 110, 500), dirty(1000, 1080, 900), dirty(5000, 2000, 4000)],
    rtt: { unprotected: [10, 11, 12], protected: [15, 16, 17], epochUs: 5000 },
    failovers: [{ how: 'kill -9', heartbeatTimeoutMs: 500, tookOverMs: 5, firstAnswerMs: 40, survived: true }, { how: 'kill -9', heartbeatTimeoutMs: 500, tookOverMs: 6, firstAnswerMs: 60, survived: true }, { how: 'kill -9', heartbeatTimeoutMs: 500, tookOverMs: 7, firstAnswerMs: 250, survived: true }],
    memory: { guestBytes: 128 * 1048576, backupAfterSync: 140 * 1048576, backup: { rss: 140 * 1048576, anon: 0, file: 0, shmem: 0 }, primary: { rss: 190 * 1048576, anon: 0, file: 0, shmem: 0 } },
    ...over,
  };
}

test('targets: the 1,000-page row is the one nearest 1,000 measured pages; each verdict follows its limit', () => {
  const t = targets(results());
  assert.equal(t.length, 6);
  assert.match(t[0].measured, /900 µs at 1,080 pages/);
  assert.equal(t[0].met, true);
  assert.equal(t[1].met, true, 'added 5 ms ≤ 7 ms');
  assert.equal(t[2].met, true, 'median of 40, 60, 250 ms is 60');
  assert.equal(t[3].met, undefined, 'no SIGSTOP runs: not measured');
  assert.equal(t[4].met, undefined, 'failover to re-protected has no target');
  assert.equal(t[4].measured, 'not measured');
  assert.equal(t[5].met, true, '140 MiB ≤ 147.2 MiB');

  const worse = targets(results({
    dirty: [dirty(1000, 990, 1500)],
    rtt: { unprotected: [10], protected: [18], epochUs: 5000 },
    failovers: [{ how: 'kill -9', heartbeatTimeoutMs: 500, tookOverMs: 5, firstAnswerMs: 40, survived: true }, { how: 'kill -9', heartbeatTimeoutMs: 500, survived: false, error: 'closed by the peer' }],
    memory: { guestBytes: 128 * 1048576, backupAfterSync: 140 * 1048576, backup: { rss: 150 * 1048576, anon: 0, file: 0, shmem: 0 }, primary: { rss: 0, anon: 0, file: 0, shmem: 0 } },
  }));
  assert.deepEqual(worse.map((r) => r.met), [false, false, false, undefined, undefined, false]);
  assert.match(worse[2].measured, /1 of 2 broken/);
  assert.equal(targets(results({ dirty: [] }))[0].met, undefined);
});

test('targets: a silent (SIGSTOP) primary is judged by when the loss was seen against the heartbeat timeout, apart from kill -9 runs', () => {
  const kill = { how: 'kill -9' as const, heartbeatTimeoutMs: 500, tookOverMs: 5, firstAnswerMs: 40, survived: true };
  const stop = (lostMs: number, survived = true) => ({ how: 'SIGSTOP' as const, heartbeatTimeoutMs: 500, lostMs, tookOverMs: lostMs + 20, firstAnswerMs: lostMs + 300, survived });
  const ok = targets(results({ failovers: [kill, stop(530), stop(610)] }));
  assert.equal(ok[2].met, true, 'the kill -9 median ignores the slower SIGSTOP runs');
  assert.equal(ok[3].met, true);
  assert.match(ok[3].measured, /30\.0, 110\.0 ms after the timeout/);
  assert.equal(targets(results({ failovers: [kill, stop(900)] }))[3].met, false, '400 ms late');
  assert.equal(targets(results({ failovers: [kill, stop(520, false)] }))[3].met, false, 'the connection broke');
});

test('targets: the kill -9 runs with a standby report kill -9 → protected again', () => {
  const kill = { how: 'kill -9' as const, heartbeatTimeoutMs: 500, tookOverMs: 5, firstAnswerMs: 40, survived: true };
  const t = targets(results({ failovers: [kill, { ...kill, reprotectedMs: 486.2 }] }));
  assert.match(t[4].measured, /kill -9 → protected again on the standby: 486 ms/);
  assert.equal(t[4].met, undefined);
});

test('the full report has every table', () => {
  const text = fullReport(results());
  for (const h of ['target (issue 5, 6)', 're-protected on the standby', 'workload (cuju-dirty)', 'epochs traced', 'round trip', 'failover run', 'VMM process']) assert.ok(text.includes(h), h);
});

test('the round-trip table shows output commit\'s share when query-ft had packet hold times', () => {
  const base = { unprotected: [10, 11, 12], protected: [30, 31, 32], epochUs: 5000 };
  assert.doesNotMatch(rttTable(base), /held by output commit/);
  const text = rttTable({ ...base, packetHoldMs: { p50: 4.2, p99: 9.5 } });
  assert.match(text, /added by protection \(p50\) \| 20\.00/);
  assert.match(text, /of which the reply held by output commit \| 4\.20 \| 9\.50 \| query-ft/);
});

test('/proc thread stat lines: name and utime + stime, also when the name holds spaces and parentheses', () => {
  const line = '4242 (cuju-vcpu) R 1 4242 4242 0 -1 4194560 1000 0 0 0 250 37 0 0 20 0 3 0 100 0 0';
  assert.deepEqual(parseThreadStat(line), { name: 'cuju-vcpu', ticks: 287 });
  assert.deepEqual(parseThreadStat('7 (a b) c)) S 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 0 0'), { name: 'a b) c)', ticks: 11 });
  assert.throws(() => parseThreadStat('garbage'), /not a \/proc stat line/);
  assert.deepEqual(coreShare({ vcpu: 1, vmm: 2 }, { vcpu: 1.5, vmm: 2.25 }, 0.5), { vcpu: 1, vmm: 0.5 });
});

test('the round-trip table adds the CPU split when it was measured', () => {
  const text = rttTable({ unprotected: [10], protected: [20], epochUs: 5000, cpu: {
    unprotected: { primaryVcpu: 0.31, primaryVmm: 0.02 }, protected: { primaryVcpu: 0.4, primaryVmm: 0.35, backup: 0.28 } } });
  assert.match(text, /\| unprotected \| 31 % \| 2 % \| – \|/);
  assert.match(text, /\| protected \| 40 % \| 35 % \| 28 % \|/);
});

test('backup memory lines: parsed, guest RAM unknown before protection, maxima taken inside the window only', () => {
  const lines = [
    'cuju-ft-mem 1000.0 rss=100 heap=10 used=5 ext=7 ab=3 new=2 ram=-1',
    'cuju-ft-mem 1250.0 rss=300 heap=20 used=6 ext=9 ab=8 new=2 ram=50',
    'cuju-ft-mem 1500.0 rss=200 heap=40 used=7 ext=8 ab=4 new=4 ram=60',
    'cuju-ft-mem 9000.0 rss=999 heap=99 used=99 ext=99 ab=99 new=99 ram=99',
  ].join('\n');
  const samples = parseJsMemory(`noise\n${lines}\n`);
  assert.equal(samples.length, 4);
  assert.equal(samples[0].guestRam, undefined);
  assert.deepEqual(maxJsMemory(samples, 1100, 2000), { rss: 300, heapTotal: 40, heapUsed: 7, external: 9, arrayBuffers: 8, newSpace: 4, guestRam: 60 });
  assert.equal(maxJsMemory(samples, 2000, 3000), undefined);
});

test('the full report ends with the FT verify counts when verify ran', () => {
  assert.doesNotMatch(fullReport(results()), /FT verify/);
  assert.match(fullReport(results({ verify: { every: 100, verified: 12, mismatches: 0 } })), /FT verify every 100 epochs over the protected windows: 12 epochs compared, 0 differed$/);
  assert.match(fullReport(results({ verify: { every: 100, verified: 12, mismatches: 1 } })), /1 differed \(THE REPLICA DIFFERED\)$/);
});
