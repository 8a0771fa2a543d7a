/**
 * The output-commit gates of one VM behind the FT engine's interfaces (src/ft/epoch.ts
 * OutputCommit for the primary, src/ft/backup.ts BackupDisks for the backup).
 *
 * The engine's DiskWrite/DiskDiscard carry a device ordinal but no submission order, so
 * each disk's epoch is coalesced (coalesceDiskWrites) into non-overlapping ranges before
 * it leaves: then the backup may apply writes and discards in any order and still get
 * the guest's result. FtBackupDisks checks that promise on arrival.
 */
import type { BlockBackend } from '../../block/backend.js';
import type { BackupDisks } from '../backup.js';
import type { DiskDiscard as WireDiscard, DiskWrite as WireWrite, OutputCommit } from '../epoch.js';
import { applyOps, coalesceDiskWrites, orderedOps, type DiskDiscard, type DiskWrite } from './disk-writes.js';
import { DiskReplayError } from './errors.js';
import type { GatedNetBackend } from './gated-net-backend.js';
import { HoldingBlockBackend } from './holding-block-backend.js';
import type { OutputFence, OutputPermit, OutputPermitTarget } from './output-permit.js';
import { ReplicatingBlockBackend } from './replicating-block-backend.js';

export type FtDiskGate = ReplicatingBlockBackend | HoldingBlockBackend;

export class FtOutputCommit implements OutputCommit, OutputPermitTarget {
  private holding = false;

  /**
   * `disks[i]` is the block device with ordinal i. onDiskError hears that held writes
   * could not be written to a shared image (they stay held and the next release retries;
   * guest FLUSHes waiting for them fail with an I/O error).
   */
  constructor(
    private readonly nets: readonly GatedNetBackend[],
    private readonly disks: readonly FtDiskGate[],
    private readonly onDiskError: (error: Error) => void = () => {},
  ) {}

  /**
   * The initial copy starts: from now on disk writes are recorded (not held), so those
   * made while RAM is being copied travel in epoch 1 and the backup's image copy, equal
   * to ours before the copy began, catches up.
   */
  recordDiskWrites(): void {
    for (const disk of this.disks) if (disk instanceof ReplicatingBlockBackend) disk.startRecording();
  }

  /** The initial copy failed: forget what was recorded for it. */
  stopRecordingDiskWrites(): void {
    if (this.holding) return;
    for (const disk of this.disks) if (disk instanceof ReplicatingBlockBackend) disk.stopRecording();
  }

  beginEpoch(n: number): void {
    if (!this.holding) {
      for (const net of this.nets) net.startHolding(n);
      for (const disk of this.disks) {
        if (disk instanceof HoldingBlockBackend) disk.startHolding(n);
        else disk.startRecording();
      }
      this.holding = true;
      return;
    }
    for (const net of this.nets) net.beginEpoch(n);
    for (const disk of this.disks) if (disk instanceof HoldingBlockBackend) disk.beginEpoch(n);
  }

  async release(n: number): Promise<void> {
    await Promise.all([
      ...this.nets.map((net) => net.releaseThrough(n)),
      ...this.sharedDisks().map((disk) => disk.releaseThrough(n).catch((e: Error) => this.onDiskError(e))),
    ]);
  }

  async releaseAll(): Promise<void> {
    this.holding = false;
    for (const disk of this.disks) if (disk instanceof ReplicatingBlockBackend) disk.stopRecording();
    await Promise.all([
      ...this.nets.map((net) => net.releaseAll()),
      ...this.sharedDisks().map((disk) => disk.releaseAll().catch((e: Error) => this.onDiskError(e))),
    ]);
  }

  /** Split brain: the nets and the shared disks let output out only while `permit` says so (own image copies are this side's alone). */
  setOutputPermit(permit: OutputPermit): void {
    for (const net of this.nets) net.setOutputPermit(permit);
    for (const disk of this.sharedDisks()) disk.setOutputPermit(permit);
  }

  /** Split brain: acknowledged writes to shared images go out only through `fence`. */
  setOutputFence(fence: OutputFence): void {
    for (const disk of this.sharedDisks()) disk.setOutputFence(fence);
  }

  permitChanged(): void {
    for (const net of this.nets) net.permitChanged();
    for (const disk of this.sharedDisks()) disk.permitChanged();
  }

  takeDiskWrites(): { writes: WireWrite[]; discards: WireDiscard[] } {
    const writes: WireWrite[] = [];
    const discards: WireDiscard[] = [];
    this.disks.forEach((disk, device) => {
      const epoch = coalesceDiskWrites(disk.takeEpochWrites());
      for (const w of epoch.writes) writes.push({ device, offset: w.offset, data: w.data });
      for (const d of epoch.discards) discards.push({ device, offset: d.offset, length: d.length });
    });
    return { writes, discards };
  }

  /** bytes: network bytes held; writes: disk ops held off shared images. */
  held(): { packets: number; bytes: number; writes: number } {
    let packets = 0;
    let bytes = 0;
    let writes = 0;
    for (const net of this.nets) {
      const s = net.holdStats();
      packets += s.heldPackets;
      bytes += s.heldBytes;
    }
    for (const disk of this.sharedDisks()) writes += disk.holdStats().heldOps;
    return { packets, bytes, writes };
  }

  takeHoldTimes(): number[] {
    return this.nets.flatMap((net) => net.takeHoldTimes());
  }

  private sharedDisks(): HoldingBlockBackend[] {
    return this.disks.filter((d): d is HoldingBlockBackend => d instanceof HoldingBlockBackend);
  }
}

/** The backup's disks: applies an epoch's (coalesced) writes to each device's image. */
export class FtBackupDisks implements BackupDisks {
  constructor(
    /** `images[i]` is the block device with ordinal i. */
    private readonly images: readonly BlockBackend[],
    readonly shared: boolean,
  ) {}

  async apply(writes: WireWrite[], discards: WireDiscard[]): Promise<void> {
    const perDevice = new Map<number, { writes: DiskWrite[]; discards: DiskDiscard[]; ranges: [number, number][] }>();
    const group = (device: number) => {
      if (!Number.isSafeInteger(device) || device < 0 || device >= this.images.length) {
        throw new DiskReplayError(`disk write batch names block device ${device}, but this VM has ${this.images.length}: the peers' configurations differ`);
      }
      let g = perDevice.get(device);
      if (!g) perDevice.set(device, (g = { writes: [], discards: [], ranges: [] }));
      return g;
    };
    // Order within a device is free only because the ranges do not overlap: check it.
    let seq = 0;
    for (const w of writes) {
      const g = group(w.device);
      g.writes.push({ seq: seq++, offset: w.offset, data: w.data });
      g.ranges.push([w.offset, w.offset + (w.data?.byteLength ?? 0)]);
    }
    for (const d of discards) {
      const g = group(d.device);
      g.discards.push({ seq: seq++, offset: d.offset, length: d.length });
      g.ranges.push([d.offset, d.offset + d.length]);
    }
    for (const [device, g] of perDevice) {
      g.ranges.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < g.ranges.length; i++) {
        if (g.ranges[i][0] < g.ranges[i - 1][1]) {
          throw new DiskReplayError(`disk write batch for block device ${device} has overlapping ranges at ${g.ranges[i][0]}: it was not coalesced, so its order is lost`);
        }
      }
    }
    // Validate every device's batch before applying any (a bad batch changes nothing).
    const plans = [...perDevice].map(([device, g]) => {
      const order = [...g.writes.map((w) => w.seq), ...g.discards.map((d) => d.seq)].sort((a, b) => a - b);
      const renumber = new Map(order.map((s, i) => [s, i])); // orderedOps wants 0..n-1 per device
      const ops = orderedOps(
        this.images[device],
        g.writes.map((w) => ({ ...w, seq: renumber.get(w.seq) as number })),
        g.discards.map((d) => ({ ...d, seq: renumber.get(d.seq) as number })),
      );
      return { image: this.images[device], ops };
    });
    for (const { image, ops } of plans) await applyOps(image, ops);
  }
}
