/**
 * A VmControl for protocol tests: records calls, keeps a run state, emits the
 * events a real VM would. `gate` lets a test hold stop() open to disconnect a
 * client mid-command.
 */
import { EventEmitter } from 'node:events';
import type { CpuInfo, KvmInfo, RunState, VmControl } from '../../src/vm/control.js';

export class FakeVm extends EventEmitter implements VmControl {
  name = 'vm1';
  state: RunState = 'running';
  calls: string[] = [];
  gate: Promise<void> | undefined;
  cpuInfos: CpuInfo[] = [
    { index: 0, threadId: 1234, pc: 0xfff0n, halted: false },
    { index: 1, threadId: 1235, pc: 0n, halted: true },
  ];

  runState(): RunState {
    return this.state;
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
    if (this.gate) await this.gate;
    if (this.state === 'running') {
      this.state = 'paused';
      this.emit('STOP');
    }
  }
  async cont(): Promise<void> {
    this.calls.push('cont');
    if (this.state !== 'running') {
      this.state = 'running';
      this.emit('RESUME');
    }
  }
  async systemReset(): Promise<void> {
    this.calls.push('systemReset');
    this.emit('RESET', { guest: false, reason: 'host-qmp-system-reset' });
  }
  async systemPowerdown(): Promise<void> {
    this.calls.push('systemPowerdown');
  }
  async quit(): Promise<void> {
    this.calls.push('quit');
    this.emit('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
  }
  async cpus(): Promise<CpuInfo[]> {
    return this.cpuInfos;
  }
  async registersText(cpuIndex = 0): Promise<string> {
    return `RAX=000000000000000${cpuIndex} RBX=0000000000000000\nRIP=000000000000fff0 RFL=00000002`;
  }
  kvmInfo(): KvmInfo {
    return { enabled: true, present: true, backend: 'kvm_pvm', note: 'guest kernel code is emulated (~2M instructions/s)' };
  }
}
