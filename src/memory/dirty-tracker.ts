/**
 * Which pages of one RAM memory slot changed since the last look: the input of
 * pre-copy live migration and of fault-tolerance checkpoints. Two writers change
 * guest RAM and both are tracked:
 *  - the guest (vCPUs, and KVM itself on the guest's behalf): KVM's dirty log,
 *    turned on by re-registering the slot with KVM_MEM_LOG_DIRTY_PAGES;
 *  - the VMM (device models writing guest RAM through GuestMemory): KVM never sees
 *    those host-side stores, so GuestMemory.onWrite feeds a bitmap of our own.
 * harvest() merges both and starts a new interval.
 *
 * Contract for callers (why no write is ever lost): harvest() re-arms tracking of a
 * page *before* returning it, so the caller must read (copy) the harvested pages
 * after harvest() returns. A write that lands before the re-arm is in the copy; a
 * write after it is reported by the next harvest. Details at harvest().
 */
import * as K from '../kvm/constants.js';
import { KvmDirtyBitmap, setDirtyLogMode, type DirtyLogMode, type DirtyLogVm } from '../kvm/dirty-log.js';
import type { MemorySlot } from '../kvm/memory-slot.js';
import { PAGE_SIZE, type GuestMemory } from './guest-memory.js';
import { PageBitmap } from './page-bitmap.js';

export class DirtyTrackerError extends Error {
  override readonly name = 'DirtyTrackerError';
}

export interface DirtyTrackerStartOptions {
  /** 'auto' (default): manual-protect when KVM offers it, else legacy. 'legacy': force the legacy mode. */
  mode?: 'auto' | 'legacy';
  /**
   * true: the first harvest reports every page of the slot (round 0 of a pre-copy,
   * which must send all of RAM anyway). false (default): only pages written after
   * start() returned.
   */
  initiallyDirty?: boolean;
}

/**
 * Pages of a slot touched by a write of `length` bytes at `gpa`, as [first, count]
 * (slot-relative page numbers), or undefined when the write misses the slot.
 */
export function slotPagesOfWrite(slot: Pick<MemorySlot, 'gpa' | 'size'>, gpa: number, length: number): [number, number] | undefined {
  if (length <= 0) return undefined;
  const start = Math.max(gpa, slot.gpa);
  const end = Math.min(gpa + length, slot.gpa + slot.size);
  if (start >= end) return undefined;
  const first = Math.floor((start - slot.gpa) / PAGE_SIZE);
  const last = Math.floor((end - 1 - slot.gpa) / PAGE_SIZE);
  return [first, last - first + 1];
}

interface WriteHook {
  readonly fn: (gpa: number, length: number) => void;
  readonly previous: ((gpa: number, length: number) => void) | undefined;
  active: boolean;
}

export class DirtyTracker {
  /** Pages in the slot; harvested page numbers are slot-relative (GPA = slot.gpa + page * 4096). */
  readonly pageCount: number;
  private kvmBitmap?: KvmDirtyBitmap;
  /** peekCount's own buffer: harvest's must not be touched between its GET and CLEAR. */
  private peekBitmap?: KvmDirtyBitmap;
  private vmmWrites: PageBitmap;
  private activeMode?: DirtyLogMode;
  private hook?: WriteHook;

  constructor(private readonly vm: DirtyLogVm, readonly slot: MemorySlot, private readonly mem: GuestMemory) {
    if (slot.size <= 0 || slot.size % PAGE_SIZE !== 0 || slot.gpa % PAGE_SIZE !== 0) {
      throw new DirtyTrackerError(`memory slot ${slot.slot} (0x${slot.gpa.toString(16)}+0x${slot.size.toString(16)}) is not page-aligned: dirty tracking needs whole 4 KiB pages`);
    }
    if (!mem.contains(slot.gpa, slot.size)) {
      throw new DirtyTrackerError(`memory slot ${slot.slot} is not inside the given GuestMemory: pass the GuestMemory that maps this slot`);
    }
    this.pageCount = slot.size / PAGE_SIZE;
    this.vmmWrites = new PageBitmap(this.pageCount);
  }

  /** The logging mode in force, undefined when stopped. */
  get mode(): DirtyLogMode | undefined {
    return this.activeMode;
  }

  get isTracking(): boolean {
    return this.activeMode !== undefined;
  }

  start(opts: DirtyTrackerStartOptions = {}): void {
    if (this.activeMode) throw new DirtyTrackerError('dirty tracking is already started on this slot: call stop() first');
    // Must precede the slot change: KVM reads INITIALLY_SET when it creates the slot's log.
    const { mode, initiallySet } = setDirtyLogMode(this.vm, opts.mode === 'legacy' ? 'legacy' : 'manual-protect');
    this.kvmBitmap ??= new KvmDirtyBitmap(this.pageCount);
    this.vmmWrites.clear();
    this.installHook();
    try {
      this.setLogging(true);
    } catch (e) {
      this.removeHook();
      throw e;
    }
    this.activeMode = mode;
    if (initiallySet && !opts.initiallyDirty) {
      // KVM's new log says "all dirty" and nothing is write-protected yet. Clearing
      // every bit write-protects every page: from here on only new writes show.
      this.kvmBitmap.setAll();
      try {
        this.vm.clearDirtyLog(this.slot.slot, 0, this.pageCount, this.kvmBitmap);
      } catch (e) {
        this.stop();
        throw e;
      }
    } else if (!initiallySet && opts.initiallyDirty) {
      // KVM's log starts empty (all pages write-protected): report everything once ourselves.
      this.vmmWrites.setAll();
    }
  }

  /**
   * Pages written since start() or the previous harvest, by the guest or the VMM.
   * Read (copy) the returned pages only after this returns (see the file comment).
   *
   * Ordering, manual-protect mode: GET copies KVM's log into B without touching it;
   * CLEAR(B) then marks exactly B's pages clean and write-protects them again.
   *  - A guest write to a page in B between GET and CLEAR: the page was still
   *    writable, so KVM records nothing new, but the page is in B and the caller
   *    copies it after CLEAR, so the write is in the copy.
   *  - A guest write to a page not in B between GET and CLEAR: that page was
   *    write-protected, the fault sets its bit; CLEAR(B) leaves bits outside B alone,
   *    so it is reported next time. (Clearing more than B, e.g. "everything", would
   *    lose exactly these writes.)
   *  - A write after CLEAR faults and lands in the next interval.
   * Legacy mode: KVM's GET does the swap-and-re-protect atomically (under its MMU lock,
   * with a TLB flush before returning), so the same argument holds with GET alone.
   * VMM writes: onWrite runs on this (the main) thread, like harvest(), so a write
   * is either before the swap of our bitmap below (reported now; the data is already
   * in RAM) or after it (reported next time). An async write into a view() calls
   * markWritten() after its data landed, so it is reported in that interval or a later one.
   */
  harvest(): PageBitmap {
    const kvm = this.kvmBitmap;
    if (!this.activeMode || !kvm) throw new DirtyTrackerError('harvest() on a stopped dirty tracker: call start() first');
    this.vm.getDirtyLog(this.slot.slot, kvm);
    if (this.activeMode === 'manual-protect' && !kvm.isEmpty()) {
      // The same buffer GET filled: clear exactly what was harvested, nothing more.
      this.vm.clearDirtyLog(this.slot.slot, 0, this.pageCount, kvm);
    }
    const harvested = this.vmmWrites;
    this.vmmWrites = new PageBitmap(this.pageCount);
    harvested.orWords(kvm.words);
    return harvested;
  }

  /**
   * How many pages were written since the last harvest, without starting a new interval
   * (the FT primary polls it to end an epoch early at its watermark). Only in
   * manual-protect mode, where KVM_GET_DIRTY_LOG copies the log and leaves it (and the
   * write protection) alone; legacy GET would clear the log, so there it answers
   * undefined. Pages both KVM and the VMM saw count once.
   */
  peekCount(): number | undefined {
    if (this.activeMode !== 'manual-protect') return undefined;
    this.peekBitmap ??= new KvmDirtyBitmap(this.pageCount);
    this.vm.getDirtyLog(this.slot.slot, this.peekBitmap);
    return this.vmmWrites.countUnion(this.peekBitmap.words);
  }

  /** Turns KVM logging off and unhooks VMM writes. Writes since the last harvest are dropped. */
  stop(): void {
    if (!this.activeMode) return;
    this.activeMode = undefined;
    this.removeHook();
    this.setLogging(false);
  }

  /** KVM accepts a flags-only change of an existing slot: same id, GPA, size and host address. */
  private setLogging(on: boolean): void {
    const s = this.slot;
    const flags = on ? s.flags | K.KVM_MEM_LOG_DIRTY_PAGES : s.flags & ~K.KVM_MEM_LOG_DIRTY_PAGES;
    this.vm.setUserMemoryRegion(s.slot, s.gpa, s.size, s.hostAddress, flags);
  }

  /** Chains onto whatever onWrite was there (it keeps being called first). */
  private installHook(): void {
    const previous = this.mem.onWrite;
    const hook: WriteHook = {
      previous,
      active: true,
      fn: (gpa, length) => {
        previous?.(gpa, length);
        if (!hook.active) return;
        const range = slotPagesOfWrite(this.slot, gpa, length);
        if (range) this.vmmWrites.setRange(range[0], range[1]);
      },
    };
    this.hook = hook;
    this.mem.onWrite = hook.fn;
  }

  private removeHook(): void {
    const hook = this.hook;
    if (!hook) return;
    this.hook = undefined;
    hook.active = false;
    // If someone chained onto our hook since, unlinking it would drop them: it stays, inert, forwarding.
    if (this.mem.onWrite === hook.fn) this.mem.onWrite = hook.previous;
  }
}
