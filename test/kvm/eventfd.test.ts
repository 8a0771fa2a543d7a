/**
 * eventfd + the native fd watcher, and KVM_IOEVENTFD: a guest MMIO write to a
 * registered address signals the eventfd inside KVM, with no exit to JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventFd } from '../../src/kvm/eventfd.js';
import { IoBus } from '../../src/vm/io-bus.js';
import { Vcpu } from '../../src/vm/vcpu.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { longModeVm, TINY_RAM } from '../helpers/long-mode-vm.js';

test('a watched eventfd calls back once per burst of signals, and stops after unwatch', { timeout: 10_000 }, async () => {
  const efd = new EventFd();
  const counts: bigint[] = [];
  let wake!: () => void;
  const first = new Promise<void>((r) => (wake = r));
  efd.watch((n) => { counts.push(n); wake(); });
  efd.signal();
  efd.signal();
  efd.signal();
  await first;
  assert.equal(counts.reduce((a, b) => a + b, 0n), 3n);
  efd.unwatch();
  efd.signal();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(counts.reduce((a, b) => a + b, 0n), 3n, 'no callback after unwatch');
  assert.equal(efd.consume(), 1n, 'the signal is still counted');
  efd.close();
});

test('KVM_IOEVENTFD turns guest MMIO writes into eventfd signals without exits', { skip: kvmSkipReason(), timeout: 20_000 }, async () => {
  const NOTIFY = 0xd0001050;
  // mov ebx, 0xd0001050 ; mov dword [rbx], 2 ; mov dword [rbx], 7 ; out 0x10, al ; jmp $
  const { vm, fd, mem, close } = longModeVm([
    0xbb, 0x50, 0x10, 0x00, 0xd0,
    0xc7, 0x03, 0x02, 0x00, 0x00, 0x00,
    0xc7, 0x03, 0x07, 0x00, 0x00, 0x00,
    0xe6, 0x10,
    0xeb, 0xfe,
  ]);
  const efd = new EventFd();
  vm.ioeventfd(NOTIFY, 4, efd.fd, { datamatch: 2n });
  const mmioWrites: number[] = [];
  const mmio = new IoBus('mmio');
  mmio.register(0xd0001000, 0x200, 'probe', { read: () => 0, write: (off, _s, v) => mmioWrites.push(off, Number(v)) });
  let done!: () => void;
  const reachedOut = new Promise<void>((r) => (done = r));
  const pio = new IoBus('pio');
  pio.register(0x10, 1, 'done', { read: () => 0, write: () => done() });
  const vcpu = new Vcpu(0, fd, { pio, mmio, onVcpuStop: () => 'park' });
  vcpu.start();
  vcpu.resume();
  await reachedOut;
  await vcpu.pause();
  assert.equal(efd.consume(), 1n, 'the matching write signalled the eventfd');
  assert.deepEqual(mmioWrites, [0x50, 7], 'only the non-matching write exited to the VMM');
  vcpu.destroy();
  efd.close();
  assert.equal(mem.size, TINY_RAM);
  close();
});
