/** What migration needs of a machine (Machine implements it; tests may use a smaller one). */
import type { GuestMemory } from '../memory/guest-memory.js';
import type { SnapshotSource } from '../snapshot/machine-snapshot.js';
import type { MachineDescription } from '../snapshot/machine-description.js';
import type { VmControl } from '../vm/control.js';

export interface DirtyPages extends Iterable<number> {
  count(): number;
  /** This set and `other` (ascending iteration still). */
  union(other: DirtyPages): DirtyPages;
}

/** Pages of guest RAM written since the previous harvest (by the guest or by the VMM). */
export interface DirtyPageTracker {
  /** Guest page frame numbers dirtied since the last harvest (or since start), ascending. */
  harvest(): DirtyPages;
  /** Pages written since the last harvest, without harvesting; undefined when the tracker cannot tell cheaply. */
  peekCount?(): number | undefined;
  stop(): void;
}

export interface MigratableMachine extends VmControl {
  description(): MachineDescription;
  readonly memory: GuestMemory;
  /** Parks the vCPUs and waits for device I/O; the source is valid until the VM runs again. */
  freeze(): Promise<SnapshotSource>;
  /** Starts recording pages written from now on (by the guest, via KVM's dirty log, and by the VMM). */
  trackDirtyPages(): DirtyPageTracker;
  /** The VM now runs elsewhere: stay paused (postmigrate). */
  markMigrated(): void;
}
