/**
 * vCPU/VM state against real KVM: what the host supports is recorded, and a refusal by
 * KVM or a state of the wrong shape is a KvmStateError naming the ioctl, never a crash
 * or a half-understood native error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmSystem } from '../../../src/kvm/system.js';
import { KvmStateError } from '../../../src/kvm/state/errors.js';
import { probeStateSupport } from '../../../src/kvm/state/support.js';
import { captureVcpuState, restoreVcpuState } from '../../../src/kvm/state/vcpu-state.js';
import { captureVmState, restoreVmState } from '../../../src/kvm/state/vm-state.js';
import { Board } from '../../../src/vm/board.js';
import { kvmSkipReason } from '../../helpers/kvm.js';

const opts = { skip: kvmSkipReason(), timeout: 20_000 };
const MiB = 1024 * 1024;

function withBoard(f: (kvm: KvmSystem, board: Board) => void): void {
  const kvm = KvmSystem.open();
  const board = new Board(kvm, 2 * MiB, 1);
  try {
    f(kvm, board);
  } finally {
    board.destroy();
    kvm.close();
  }
}

test('the probe records capabilities and the MSRs KVM can read, TSC and kvmclock among them', opts, () => {
  withBoard((kvm, board) => {
    const support = probeStateSupport(kvm, board.vcpuFds[0]);
    assert.equal(support.capabilities.backend, kvm.backend);
    assert.ok(support.msrIndices.includes(0x10), 'IA32_TSC');
    if (support.msrIndices.includes(0x4b564d01)) assert.ok(support.msrIndices.includes(0x4b564d00), 'kvmclock MSRs together');
    assert.ok(support.msrIndices.includes(0x2ff), 'MTRR default type, which cuju sets at boot');
    const state = captureVcpuState(board.vcpuFds[0], support);
    assert.equal(state.msrs.length, support.msrIndices.length);
    assert.equal(state.fpu.kind, support.capabilities.xsave ? 'xsave' : 'fpu');
    assert.ok(new DataView(state.cpuid.buffer).getUint32(0, true) > 0, 'CPUID entries captured');
  });
});

test('KVM refusing a restore is a KvmStateError naming the ioctl', opts, () => {
  withBoard((kvm, board) => {
    const support = probeStateSupport(kvm, board.vcpuFds[0]);
    const state = captureVcpuState(board.vcpuFds[0], support);
    assert.throws(
      () => restoreVcpuState(board.vcpuFds[0], { ...state, mpState: 0x7777 }, support),
      (e: unknown) => e instanceof KvmStateError && e.ioctl === 'KVM_SET_MP_STATE' && e.code === 'EINVAL'
        && /^KVM_SET_MP_STATE failed with EINVAL for vCPU 0/.test(e.message),
    );
  });
});

test('a state of the wrong shape is refused before any ioctl', opts, () => {
  withBoard((kvm, board) => {
    const support = probeStateSupport(kvm, board.vcpuFds[0]);
    const fd = board.vcpuFds[0];
    const state = captureVcpuState(fd, support);
    const regsBefore = fd.getRegs();
    assert.throws(() => restoreVcpuState(fd, { ...state, lapic: state.lapic.subarray(0, 100), regs: new Uint8Array(144).fill(1) }, support),
      (e: unknown) => e instanceof KvmStateError && e.ioctl === 'kvm_lapic_state' && /100 bytes, KVM's struct is 1024/.test(e.message));
    assert.deepEqual(fd.getRegs(), regsBefore, 'nothing written');
    const vm = captureVmState(board.vm, support.capabilities);
    assert.throws(() => restoreVmState(board.vm, { ...vm, irqchips: [vm.irqchips[1], vm.irqchips[0], vm.irqchips[2]] }, support.capabilities),
      /irqchip 0 carries chip_id 1, expected 0/);
  });
});

test('VM state round-trips through a second VM', opts, () => {
  withBoard((kvm, a) => {
    const support = probeStateSupport(kvm, a.vcpuFds[0]);
    a.vm.irqLine(4, true); // leave a visible trace in the PIC/IOAPIC state
    const state = captureVmState(a.vm, support.capabilities);
    const b = new Board(kvm, 2 * MiB, 1);
    try {
      restoreVmState(b.vm, state, support.capabilities);
      const again = captureVmState(b.vm, support.capabilities);
      assert.deepEqual(again.irqchips, state.irqchips);
      if (state.clock && again.clock) {
        const clock = (c: Uint8Array) => new DataView(c.buffer, c.byteOffset).getBigUint64(0, true);
        const delta = clock(again.clock) - clock(state.clock);
        assert.ok(delta >= 0n && delta < 1_000_000_000n, `kvmclock continues from the saved value (moved ${delta} ns)`);
      }
    } finally {
      b.destroy();
    }
  });
});
