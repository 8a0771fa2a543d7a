/**
 * A MigratableMachine without KVM, for controller tests: 64 KiB of RAM in a plain
 * buffer, no dirty pages ever, and a freeze() the test can hold open so a migration
 * stays in flight as long as the test needs (it cannot get past freeze: writing vCPU
 * state needs real KVM objects).
 */
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { PageBitmap } from '../../src/memory/page-bitmap.js';
import type { DirtyPageTracker, MigratableMachine } from '../../src/migration/migratable.js';
import type { SnapshotSource } from '../../src/snapshot/machine-snapshot.js';
import type { MachineDescription } from '../../src/snapshot/machine-description.js';
import { FakeVm } from '../monitor/fake-vm.js';

export const FAKE_RAM = 64 * 1024;

export class FakeMigratableMachine extends FakeVm implements MigratableMachine {
  readonly memory = new GuestMemory([{ gpa: 0, size: FAKE_RAM, bytes: new Uint8Array(FAKE_RAM) }]);
  trackers = 0;
  migrated = false;
  private releaseFreeze?: () => void;
  /** Resolves when freeze() is entered. */
  readonly frozen: Promise<void>;
  private onFrozen!: () => void;

  constructor() {
    super();
    this.memory.writeU32(0x1000, 0xdeadbeef);
    this.frozen = new Promise((r) => (this.onFrozen = r));
  }

  description(): MachineDescription {
    return { ramBytes: FAKE_RAM, vcpuCount: 1, devices: [] };
  }

  trackDirtyPages(): DirtyPageTracker {
    this.trackers++;
    return { harvest: () => new PageBitmap(FAKE_RAM / 4096), stop: () => {} };
  }

  /** Stops the VM and waits for release(); then fails (no KVM objects to save). */
  async freeze(): Promise<SnapshotSource> {
    await this.stop();
    this.onFrozen();
    await new Promise<void>((r) => (this.releaseFreeze = r));
    throw new Error('the fake machine has no KVM state to save');
  }

  release(): void {
    this.releaseFreeze?.();
  }

  markMigrated(): void {
    this.migrated = true;
  }
}
