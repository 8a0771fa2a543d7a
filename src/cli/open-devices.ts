/**
 * Opens the host back ends of the devices the command line asked for (image files,
 * taps) before the guest starts, so every user mistake is reported first, and returns
 * the factories the machine builds its device models from.
 */
import { RawImage } from '../block/raw-image.js';
import { nativeImageLocker } from '../block/image-lock.js';
import { VirtioBlk } from '../devices/virtio-blk/virtio-blk.js';
import { VirtioRng } from '../devices/virtio-rng/virtio-rng.js';
import type { VirtioDeviceFactory } from '../vm/virtio-wiring.js';
import type { DeviceSpec } from './args/devices.js';
import { Tap } from '../net/tap.js';
import { MacAddress } from '../net/mac.js';
import { VirtioNet } from '../devices/virtio-net/virtio-net.js';
import type { BlockBackend } from '../block/backend.js';
import { GatedNetBackend } from '../ft/output/gated-net-backend.js';
import { HoldingBlockBackend } from '../ft/output/holding-block-backend.js';
import { ReplicatingBlockBackend } from '../ft/output/replicating-block-backend.js';
import type { FtDiskGate } from '../ft/output/ft-output-commit.js';

export interface OpenedDevices {
  factories: VirtioDeviceFactory[];
  /**
   * Fault tolerance's view of the back ends, in device order: every tap behind an
   * output gate, every disk behind a recording (own image copy) or holding (share-rw
   * image) gate. Gates pass everything straight through until protection starts.
   */
  ft: { nets: GatedNetBackend[]; disks: FtDiskGate[]; images: BlockBackend[]; diskIds: string[]; sharedDisks: boolean };
  close(): Promise<void>;
}

export async function openDevices(specs: readonly DeviceSpec[], warn: (message: string) => void): Promise<OpenedDevices> {
  let nicIndex = 0;
  const factories: VirtioDeviceFactory[] = [];
  const closers: (() => Promise<void>)[] = [];
  const ft: OpenedDevices['ft'] = { nets: [], disks: [], images: [], diskIds: [], sharedDisks: false };
  const close = async () => {
    await Promise.allSettled(closers.map((c) => c()));
  };
  try {
    for (const spec of specs) {
      switch (spec.kind) {
        case 'virtio-blk': {
          const image = await RawImage.open({
            path: spec.file, format: spec.format, readonly: spec.readonly, cache: spec.cache,
            shareRw: spec.shareRw, locker: nativeImageLocker() ?? null,
          });
          closers.push(() => image.close());
          // share-rw=on is the original's shared (NFS) image: primary and backup open the
          // same file, so the primary's writes are held until their epoch is acknowledged.
          const gate = spec.shareRw ? new HoldingBlockBackend(image) : new ReplicatingBlockBackend(image);
          ft.disks.push(gate);
          ft.images.push(image);
          ft.diskIds.push(spec.id);
          if (spec.shareRw) ft.sharedDisks = true;
          factories.push({ name: `virtio-blk ${spec.id}`, create: () => new VirtioBlk({ backend: gate, serial: spec.serial ?? spec.id }) });
          break;
        }
        case 'virtio-rng':
          factories.push({ name: `virtio-rng ${spec.id}`, create: () => new VirtioRng() });
          break;
        case 'virtio-net': {
          const rawTap = Tap.open({ ifname: spec.ifname });
          closers.push(async () => rawTap.close());
          const tap = new GatedNetBackend(rawTap);
          ft.nets.push(tap);
          const mac = spec.mac ? MacAddress.parse(spec.mac) : MacAddress.qemuDefault(nicIndex);
          nicIndex++;
          const devices: VirtioNet[] = [];
          closers.push(async () => { for (const d of devices) d.stopAnnouncing(); });
          factories.push({
            name: `virtio-net ${spec.id}`,
            create: () => {
              const d = new VirtioNet({ tap, mac, onWarning: warn });
              devices.push(d);
              return d;
            },
          });
          break;
        }
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { factories, ft, close };
}
