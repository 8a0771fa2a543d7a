/**
 * eventfd + the native fd watcher, and KVM_IOEVENTFD: a guest MMIO write to a
 * registered address signals the eventfd inside KVM, with no exit to JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventFd } from '../../src/kvm/eventfd.js';
import { KvmSystem } from '../../src/kvm/system.js';
import { VmFd } from '../../src/kvm/vm-fd.js';
import { VcpuFd } from '../../src/kvm/vcpu-fd.js';
import { native } from '../../src/kvm/native.js';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { IoBus } from '../../src/vm/io-bus.js';
import { Vcpu } from '../../src/vm/vcpu.js';
import { bootRegs, longModeSregs, writeLongModeTables } from '../../src/x86/long-mode.js';
import { kvmSkipReason } from '../helpers/kvm.js';

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
  const RAM = 2 * 1024 * 1024;
  const NOTIFY = 0xd0001050;
  const kvm = KvmSystem.open();
  const vm = new VmFd(kvm.createVmFd());
  vm.setTssAddr(0xfffbd000);
  const ram = native().mmapAnonymous(RAM);
  vm.setUserMemoryRegion(0, 0, RAM, native().addressOf(ram));
  const mem = new GuestMemory([{ gpa: 0, size: RAM, bytes: new Uint8Array(ram) }]);
  writeLongModeTables(mem);
  // mov eax,2; mov [0xd0001050],eax (32-bit absolute via rbx); out 0x10,al; hlt-loop
  // mov ebx, 0xd0001050 ; mov dword [rbx], 2 ; mov dword [rbx], 7 ; out 0x10, al ; jmp $
  mem.write(0x100000, Uint8Array.from([
    0xbb, 0x50, 0x10, 0x00, 0xd0,
    0xc7, 0x03, 0x02, 0x00, 0x00, 0x00,
    0xc7, 0x03, 0x07, 0x00, 0x00, 0x00,
    0xe6, 0x10,
    0xeb, 0xfe,
  ]));
  const fd = new VcpuFd(vm.createVcpu(0), 0, kvm.vcpuMmapSize);
  fd.setSregs(longModeSregs(fd.getSregs()));
  fd.setRegs(bootRegs(0x100000, 0));
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
  fd.close();
  vm.close();
  kvm.close();
  assert.equal(mem.size, RAM);
});
