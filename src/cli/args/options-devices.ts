/**
 * -drive, -device, -netdev, -net: kept as parsed key=value lists so the
 * original Cuju command lines are accepted now; the block and network
 * devices that will consume them come later.
 */
import type { OptionSpec } from './option-spec.js';
import type { ParseState } from './parse-state.js';
import type { RawOption } from './vm-config.js';
import { parseKeyValue } from './key-value.js';

const GROUP = 'Block, network and other devices';

type RawList = 'drives' | 'devices' | 'netdevs' | 'nets';

export const DEVICE_OPTIONS: readonly OptionSpec[] = [
  rawOption('drive', 'drives', undefined, 'if=none,id=drive0,format=raw,file=disk.img', 'disk image: file=PATH,if=...,id=...,format=raw,cache=...'),
  rawOption('device', 'devices', 'driver', 'virtio-blk,drive=drive0', 'device: DRIVER[,prop=value...], e.g. virtio-blk,drive=drive0'),
  rawOption('netdev', 'netdevs', 'type', 'tap,id=n0,ifname=tap0', 'network back end: TYPE,id=ID[,...], e.g. tap,id=n0,ifname=tap0'),
  rawOption('net', 'nets', 'type', 'nic,model=virtio', 'legacy network option: nic,model=virtio,... or tap,ifname=tap0'),
];

function rawOption(name: string, list: RawList, impliedKey: string | undefined, example: string, help: string): OptionSpec {
  const flag = `-${name}`;
  return {
    names: [name],
    arg: 'OPTIONS',
    example,
    group: GROUP,
    help,
    apply(state: ParseState, value: string) {
      const entries = [...parseKeyValue(value, { impliedKey, flag }).entries];
      const raw: RawOption = { flag: name, text: value, entries };
      state[list].push(raw);
    },
  };
}
