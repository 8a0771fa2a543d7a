/**
 * Turns the raw -drive / -device / -netdev / -net options into device specs, with
 * QEMU's pairing rules: `-drive if=none,id=D` + `-device virtio-blk,drive=D`, or
 * `-drive if=virtio` alone; `-netdev tap,id=N` + `-device virtio-net,netdev=N`, or the
 * legacy `-net tap` + `-net nic,model=virtio` on the same vlan. Nothing is opened here.
 */
import { boolValue, KeyValueList } from './key-value.js';
import { UsageError } from './usage-error.js';
import type { RawOption, VmConfig } from './vm-config.js';

export interface BlockDeviceSpec {
  kind: 'virtio-blk';
  id: string;
  file: string;
  format?: string;
  readonly: boolean;
  cache?: string;
  shareRw: boolean;
  serial?: string;
}

export interface NetDeviceSpec {
  kind: 'virtio-net';
  id: string;
  ifname?: string;
  mac?: string;
}

export interface RngDeviceSpec {
  kind: 'virtio-rng';
  id: string;
}

export type DeviceSpec = BlockDeviceSpec | NetDeviceSpec | RngDeviceSpec;

export interface ResolvedDevices {
  devices: DeviceSpec[];
  notes: string[];
}

const BLK_MODELS = new Set(['virtio-blk', 'virtio-blk-device', 'virtio-blk-pci']);
const NET_MODELS = new Set(['virtio-net', 'virtio-net-device', 'virtio-net-pci']);
const RNG_MODELS = new Set(['virtio-rng', 'virtio-rng-device', 'virtio-rng-pci']);

const list = (o: RawOption) => new KeyValueList(o.entries);

function refuseUnknownKeys(o: RawOption, l: KeyValueList, known: string[]): void {
  for (const k of l.keys()) {
    if (!known.includes(k)) throw new UsageError(`-${o.flag} ${o.text}: unknown property '${k}' (cuju knows ${known.join(', ')})`);
  }
}

function onOff(l: KeyValueList, key: string, o: RawOption): boolean {
  const v = l.get(key);
  return v === undefined ? false : boolValue(v, key, `-${o.flag}`);
}

export function resolveDevices(config: Pick<VmConfig, 'drives' | 'devices' | 'netdevs' | 'nets'>): ResolvedDevices {
  const devices: DeviceSpec[] = [];
  const notes: string[] = [];
  const drives = new Map<string, { o: RawOption; l: KeyValueList; used: boolean }>();
  const netdevs = new Map<string, { o: RawOption; l: KeyValueList; used: boolean }>();

  config.drives.forEach((o, i) => {
    const l = list(o);
    refuseUnknownKeys(o, l, ['file', 'if', 'id', 'format', 'cache', 'readonly', 'media', 'aio', 'discard', 'index', 'serial']);
    if (!l.get('file')) throw new UsageError(`-drive ${o.text}: no file= given (e.g. -drive file=disk.img,format=raw,if=virtio)`);
    const media = l.get('media');
    if (media && media !== 'disk') throw new UsageError(`-drive ${o.text}: media=${media} is not supported (only disks)`);
    const iface = l.get('if') ?? 'ide';
    if (iface === 'virtio') {
      devices.push(blockSpec(o, l, undefined, l.get('id') ?? `virtio${i}`));
    } else if (iface === 'none') {
      const id = l.get('id');
      if (!id) throw new UsageError(`-drive ${o.text}: if=none needs an id= for -device virtio-blk,drive=ID to refer to`);
      if (drives.has(id)) throw new UsageError(`-drive ${o.text}: duplicate drive id '${id}'`);
      drives.set(id, { o, l, used: false });
    } else {
      throw new UsageError(`-drive ${o.text}: if=${iface} is not supported: cuju has virtio disks only (use if=virtio, or if=none with -device virtio-blk,drive=ID)`);
    }
  });

  config.netdevs.forEach((o) => {
    const l = list(o);
    const type = l.get('type');
    if (type !== 'tap') throw new UsageError(`-netdev ${o.text}: type '${type}' is not supported (cuju has -netdev tap)`);
    refuseUnknownKeys(o, l, ['type', 'id', 'ifname', 'script', 'downscript', 'vhost', 'queues']);
    const id = l.get('id');
    if (!id) throw new UsageError(`-netdev ${o.text}: needs an id= for -device virtio-net,netdev=ID`);
    if (netdevs.has(id)) throw new UsageError(`-netdev ${o.text}: duplicate netdev id '${id}'`);
    scriptNote(l, o, notes);
    netdevs.set(id, { o, l, used: false });
  });

  config.devices.forEach((o, i) => {
    const l = list(o);
    const model = l.get('driver') ?? '';
    if (BLK_MODELS.has(model)) {
      refuseUnknownKeys(o, l, ['driver', 'drive', 'id', 'serial', 'share-rw', 'bus', 'addr']);
      const ref = l.get('drive');
      const d = ref ? drives.get(ref) : undefined;
      if (!ref || !d) throw new UsageError(`-device ${o.text}: drive=${ref ?? ''} names no -drive if=none,id=...`);
      if (d.used) throw new UsageError(`-device ${o.text}: drive '${ref}' is already used by another device`);
      d.used = true;
      devices.push(blockSpec(d.o, d.l, l, l.get('id') ?? ref));
    } else if (NET_MODELS.has(model)) {
      refuseUnknownKeys(o, l, ['driver', 'netdev', 'mac', 'id', 'bus', 'addr']);
      const ref = l.get('netdev');
      const n = ref ? netdevs.get(ref) : undefined;
      if (!ref || !n) throw new UsageError(`-device ${o.text}: netdev=${ref ?? ''} names no -netdev tap,id=...`);
      if (n.used) throw new UsageError(`-device ${o.text}: netdev '${ref}' is already used by another device`);
      n.used = true;
      devices.push({ kind: 'virtio-net', id: l.get('id') ?? ref, ifname: n.l.get('ifname'), mac: l.get('mac') });
    } else if (RNG_MODELS.has(model)) {
      refuseUnknownKeys(o, l, ['driver', 'id', 'rng', 'bus', 'addr']);
      devices.push({ kind: 'virtio-rng', id: l.get('id') ?? `rng${i}` });
    } else {
      throw new UsageError(`-device ${o.text}: unknown device model '${model}' (cuju has virtio-blk, virtio-net, virtio-rng)`);
    }
  });

  resolveLegacyNet(config.nets, devices, notes);
  for (const [id, d] of drives) if (!d.used) notes.push(`-drive id=${id} is not attached to any -device; it is ignored`);
  for (const [id, n] of netdevs) if (!n.used) notes.push(`-netdev id=${id} is not attached to any -device; it is ignored`);
  return { devices, notes };
}

function blockSpec(o: RawOption, l: KeyValueList, dev: KeyValueList | undefined, id: string): BlockDeviceSpec {
  return {
    kind: 'virtio-blk',
    id,
    file: l.get('file')!,
    format: l.get('format'),
    readonly: onOff(l, 'readonly', o),
    cache: l.get('cache'),
    shareRw: dev?.get('share-rw') !== undefined ? boolValue(dev.get('share-rw')!, 'share-rw', '-device') : false,
    serial: dev?.get('serial') ?? l.get('serial'),
  };
}

function scriptNote(l: KeyValueList, o: RawOption, notes: string[]): void {
  const script = l.get('script');
  if (script !== 'no') {
    notes.push(`-${o.flag} ${o.text}: cuju does not run network scripts (${script ?? '/etc/qemu-ifup'}); it creates the tap if missing and brings it up: attach it to your bridge yourself`);
  }
}

/** Legacy `-net tap,... -net nic,model=virtio,...`: a tap and a nic on the same vlan are one device. */
function resolveLegacyNet(nets: readonly RawOption[], devices: DeviceSpec[], notes: string[]): void {
  const taps = new Map<string, { o: RawOption; l: KeyValueList }>();
  const nics: { o: RawOption; l: KeyValueList; vlan: string }[] = [];
  for (const o of nets) {
    const l = list(o);
    const type = l.get('type');
    const vlan = l.get('vlan') ?? '0';
    if (type === 'tap') {
      refuseUnknownKeys(o, l, ['type', 'ifname', 'script', 'downscript', 'vlan', 'id', 'name', 'vhost']);
      scriptNote(l, o, notes);
      taps.set(vlan, { o, l });
    } else if (type === 'nic') {
      refuseUnknownKeys(o, l, ['type', 'model', 'macaddr', 'vlan', 'id', 'name', 'netdev', 'addr']);
      const model = l.get('model') ?? 'virtio';
      if (model !== 'virtio' && !NET_MODELS.has(model)) throw new UsageError(`-net ${o.text}: model=${model} is not supported (cuju has model=virtio)`);
      nics.push({ o, l, vlan });
    } else if (type === 'none') {
      // QEMU's "-net none": no default network.
    } else {
      throw new UsageError(`-net ${o.text}: type '${type}' is not supported (cuju has -net tap and -net nic,model=virtio)`);
    }
  }
  nics.forEach((nic, i) => {
    const tap = taps.get(nic.vlan);
    if (!tap) throw new UsageError(`-net ${nic.o.text}: no -net tap on vlan ${nic.vlan} for this nic`);
    taps.delete(nic.vlan);
    devices.push({ kind: 'virtio-net', id: nic.l.get('id') ?? `net${i}`, ifname: tap.l.get('ifname'), mac: nic.l.get('macaddr') });
  });
  for (const [vlan, t] of taps) notes.push(`-net ${t.o.text}: no -net nic on vlan ${vlan} uses this tap; it is ignored`);
}
