/**
 * Snapshots of a real KVM machine: a counting guest is paused, saved to a file, restored
 * into a fresh machine, and carries on from where it was; the saved state survives a
 * capture → restore → capture round trip byte for byte.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvmSystem } from '../../src/kvm/system.js';
import { probeStateSupport, type KvmStateSupport } from '../../src/kvm/state/support.js';
import { captureVcpuState } from '../../src/kvm/state/vcpu-state.js';
import { captureVmState } from '../../src/kvm/state/vm-state.js';
import { kvmRestoreTarget, restoreSnapshotFile, saveSnapshotFile } from '../../src/snapshot/machine-snapshot.js';
import { SnapshotError } from '../../src/snapshot/errors.js';
import type { MachineDescription } from '../../src/snapshot/machine-description.js';
import { decodeRegs } from '../../src/kvm/structs.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { COUNTER_GPA, CounterVm, RAM_BYTES } from './counter-vm.js';

const opts = { skip: kvmSkipReason(), timeout: 60_000 };
const MSR_IA32_TSC = 0x10;
const scratch = mkdtempSync(join(tmpdir(), 'cuju-snapkvm-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const MACHINE: MachineDescription = { ramBytes: RAM_BYTES, vcpuCount: 1, devices: [{ kind: 'port-counter', id: 'port80' }] };

async function saveRunning(kvm: KvmSystem, path: string) {
  const src = new CounterVm(kvm, true);
  await src.runFor(3);
  const support = probeStateSupport(kvm, src.board.vcpuFds[0]);
  const saved = {
    counter: src.counter,
    state: captureVcpuState(src.board.vcpuFds[0], support),
    portWrites: src.portWrites,
  };
  await saveSnapshotFile(path, {
    ...src.board, machine: MACHINE, support,
    deviceState: () => ({ writes: src.portWrites }),
  });
  return { src, support, saved };
}

function restoreInto(kvm: KvmSystem, path: string, support: KvmStateSupport) {
  const dst = new CounterVm(kvm, false);
  const devices: unknown[] = [];
  const done = restoreSnapshotFile(path, { ...MACHINE, capabilities: support.capabilities }, kvmRestoreTarget(dst.board, support, (_i, _d, s) => devices.push(s)));
  return { dst, devices, done };
}

test('a paused guest saved to a file continues in a fresh VM from where it stopped', opts, async () => {
  const kvm = KvmSystem.open();
  const path = join(scratch, 'counter.snap');
  const { src, support, saved } = await saveRunning(kvm, path);
  assert.ok(saved.counter > 0n, 'the guest counted before the pause');
  src.destroy();

  const { dst, devices, done } = restoreInto(kvm, path, support);
  await done;
  assert.deepEqual(devices, [{ writes: saved.portWrites }]);
  assert.equal(dst.counter, saved.counter, 'RAM restored');
  const regs = dst.board.vcpuFds[0].getRegs();
  const savedRegs = decodeRegs(saved.state.regs);
  assert.deepEqual(regs, savedRegs, 'registers restored (RIP, R15, ...)');
  const diff = saved.counter - savedRegs.r15;
  assert.ok(diff === 0n || diff === 1n, `counter ${saved.counter} tracks r15 ${savedRegs.r15}`);

  await dst.runFor(3);
  const r15 = dst.board.vcpuFds[0].getRegs().r15;
  assert.ok(dst.counter > saved.counter + 3n * 4096n - 4096n, `counter went on from ${saved.counter} to ${dst.counter}`);
  const after = dst.counter - r15;
  assert.ok(after === 0n || after === 1n, `counter ${dst.counter} still tracks r15 ${r15}: the loop continued, not restarted`);
  dst.destroy();
  kvm.close();
});

test('capture → restore → capture gives the same regs, sregs, LAPIC, MSRs, irqchips', opts, async () => {
  const kvm = KvmSystem.open();
  const path = join(scratch, 'roundtrip.snap');
  const { src, support } = await saveRunning(kvm, path);
  const first = captureVcpuState(src.board.vcpuFds[0], support);
  const firstVm = captureVmState(src.board.vm, support.capabilities);
  src.destroy();
  const { dst, done } = restoreInto(kvm, path, support);
  await done;
  const second = captureVcpuState(dst.board.vcpuFds[0], support);
  const secondVm = captureVmState(dst.board.vm, support.capabilities);
  assert.deepEqual(second.regs, first.regs);
  assert.deepEqual(second.sregs, first.sregs);
  assert.deepEqual(second.lapic, first.lapic);
  assert.deepEqual(second.cpuid, first.cpuid);
  assert.deepEqual(second.fpu, first.fpu);
  assert.deepEqual(second.xcrs, first.xcrs);
  assert.deepEqual(second.debugRegs, first.debugRegs);
  assert.deepEqual(second.events, first.events);
  assert.equal(second.mpState, first.mpState);
  // The TSC runs on between the two captures: compare it only for monotonicity.
  const tsc = (s: typeof first) => s.msrs.find((m) => m.index === MSR_IA32_TSC)!.data;
  assert.ok(tsc(second) >= tsc(first), 'guest TSC never goes back');
  assert.deepEqual(second.msrs.filter((m) => m.index !== MSR_IA32_TSC), first.msrs.filter((m) => m.index !== MSR_IA32_TSC));
  assert.deepEqual(secondVm.irqchips, firstVm.irqchips);
  dst.destroy();
  kvm.close();
});

test('a damaged or mismatched snapshot file never touches the fresh VM', opts, async () => {
  const kvm = KvmSystem.open();
  const path = join(scratch, 'good.snap');
  const { src, support } = await saveRunning(kvm, path);
  src.destroy();
  const good = readFileSync(path);
  const cases: [string, Buffer, Partial<MachineDescription>, RegExp][] = [
    ['flipped RAM byte', Buffer.from(good).fill(0x55, 4096, 4097), {}, /CRC|SHA-256/],
    ['truncated', good.subarray(0, good.length - 100), {}, /truncated/],
    ['newer version', Buffer.concat([good.subarray(0, 8), Buffer.of(2, 0, 0, 0), good.subarray(12)]), {}, /version 2 is newer than this cuju supports \(1\)/],
    ['RAM size mismatch', good, { ramBytes: RAM_BYTES * 2 }, /^snapshot RAM size mismatch: the snapshot has 2 MiB of RAM, this machine 4 MiB \(start cuju with -m 2M\)$/],
  ];
  for (const [name, bytes, override, message] of cases) {
    const bad = join(scratch, 'bad.snap');
    writeFileSync(bad, bytes);
    const dst = new CounterVm(kvm, false);
    const before = { regs: dst.board.vcpuFds[0].getRegs(), lapic: dst.board.vcpuFds[0].getLapic() };
    await assert.rejects(
      restoreSnapshotFile(bad, { ...MACHINE, ...override, capabilities: support.capabilities }, kvmRestoreTarget(dst.board, support, () => assert.fail('device restored'))),
      (e: Error) => e instanceof SnapshotError && message.test(e.message),
      name,
    );
    assert.equal(dst.board.mem.readU64(COUNTER_GPA), 0n, `${name}: RAM untouched`);
    assert.deepEqual(dst.board.vcpuFds[0].getRegs(), before.regs, `${name}: registers untouched`);
    assert.deepEqual(dst.board.vcpuFds[0].getLapic(), before.lapic, `${name}: LAPIC untouched`);
    dst.destroy();
  }
  kvm.close();
});
