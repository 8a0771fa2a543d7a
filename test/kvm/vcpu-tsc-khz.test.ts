import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as K from '../../src/kvm/constants.js';
import { KvmSystem } from '../../src/kvm/system.js';
import { Board } from '../../src/vm/board.js';
import { kvmSkipReason } from '../helpers/kvm.js';

test('KVM_GET_TSC_KHZ: every vCPU reports the same plausible TSC frequency', { skip: kvmSkipReason() }, () => {
  const kvm = KvmSystem.open();
  const board = new Board(kvm, 16 << 20, Math.min(2, kvm.checkExtension(K.KVM_CAP_NR_VCPUS) || 1));
  try {
    const khz = board.vcpuFds.map((v) => v.getTscKhz());
    // 100 MHz .. 10 GHz: any x86 TSC; a struct pointer or an errno would not be.
    for (const k of khz) assert.ok(Number.isInteger(k) && k > 100_000 && k < 10_000_000, `TSC kHz ${k}`);
    assert.equal(new Set(khz).size, 1, `vCPUs disagree: ${khz.join(', ')}`);
  } finally {
    board.destroy();
    kvm.close();
  }
});
