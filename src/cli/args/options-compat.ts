/**
 * Flags QEMU command lines commonly carry that have no effect on cuju's one
 * machine. They are accepted so existing scripts run, and each leaves one
 * note saying why it changes nothing. -accel/-machine still refuse a
 * non-KVM accelerator, since that would silently change what the user asked.
 */
import type { OptionSpec } from './option-spec.js';
import { parseKeyValue } from './key-value.js';
import { UsageError } from './usage-error.js';

const GROUP = 'Accepted for QEMU compatibility (no effect)';

export const COMPAT_OPTIONS: readonly OptionSpec[] = [
  noted(['enable-kvm'], undefined, 'use KVM (always on)', () => '-enable-kvm: cuju always runs on KVM'),
  {
    names: ['accel'],
    arg: 'kvm',
    example: 'kvm',
    group: GROUP,
    help: 'accelerator; only kvm',
    apply(state, value) {
      const accel = parseKeyValue(value, { impliedKey: 'accel', flag: '-accel' }).get('accel');
      requireKvm(accel, '-accel');
      state.note(`-accel ${value}: cuju always runs on KVM`);
    },
  },
  {
    names: ['machine', 'M'],
    arg: '[type=]NAME[,...]',
    example: 'pc',
    group: GROUP,
    help: 'machine type; cuju has one (a minimal x86 PC)',
    apply(state, value) {
      const list = parseKeyValue(value, { impliedKey: 'type', flag: '-machine' });
      const accel = list.get('accel');
      if (accel !== undefined) requireKvm(accel, '-machine');
      state.note(`-machine ${value}: cuju has one machine type (a minimal x86 PC); the setting is not used`);
    },
  },
  noted(['cpu'], 'MODEL', 'CPU model; the guest gets the host CPU as KVM offers it', (v) =>
    `-cpu ${v}: the guest sees the host CPU as KVM offers it; the model name is not used`,
  ),
  noted(['vga'], 'TYPE', 'display adapter; cuju has none', (v) =>
    `-vga ${v}: cuju has no display adapter; the guest console is the serial port`,
  ),
  noted(['display'], 'TYPE', 'display; cuju has none', (v) =>
    `-display ${v}: cuju has no display; the guest console is the serial port`,
  ),
  noted(['boot'], 'OPTIONS', 'boot order/menu; cuju boots -kernel directly', (v) =>
    `-boot ${v}: cuju boots the -kernel directly; boot order and menu are not used`,
  ),
  noted(['rtc'], 'OPTIONS', 'RTC settings; the RTC always reads host UTC', (v) =>
    `-rtc ${v}: the guest RTC always reads the host's UTC time; the setting is not used`,
  ),
  noted(['no-hpet'], undefined, 'no HPET (cuju has none)', () => '-no-hpet: cuju has no HPET anyway'),
  noted(['k'], 'LAYOUT', 'keyboard layout; needs a display cuju lacks', (v) =>
    `-k ${v}: keyboard layouts apply to a graphical display, which cuju does not have`,
  ),
  noted(['usb'], undefined, 'USB controller; cuju has none', () => '-usb: cuju has no USB controller'),
  noted(['usbdevice'], 'DEVICE', 'USB device; cuju has no USB', (v) =>
    `-usbdevice ${v}: cuju has no USB controller; the device is not added`,
  ),
  noted(['global'], 'DRIVER.PROP=VALUE', 'device property default; not used yet', (v) =>
    `-global ${v}: device property defaults are not used yet`,
  ),
  noted(['L'], 'DIR', 'firmware directory; not needed', (v) =>
    `-L ${v}: cuju loads no firmware (direct kernel boot only)`,
  ),
  noted(['bios'], 'FILE', 'firmware image; not used (direct kernel boot only)', (v) =>
    `-bios ${v}: cuju loads no firmware (direct kernel boot only); use -kernel`,
  ),
];

function noted(names: string[], arg: string | undefined, help: string, note: (value: string) => string): OptionSpec {
  return {
    names,
    arg,
    group: GROUP,
    help,
    apply(state, value) {
      state.note(note(value));
    },
  };
}

/** QEMU accepts a ':'-separated fallback list (accel=kvm:tcg); KVM must be in it. */
function requireKvm(accel: string | undefined, flag: string): void {
  if (accel === undefined || !accel.split(':').includes('kvm')) {
    throw new UsageError(`${flag}: cuju runs on KVM only (use ${flag === '-accel' ? '-accel kvm' : 'accel=kvm'} or drop it)`);
  }
}
