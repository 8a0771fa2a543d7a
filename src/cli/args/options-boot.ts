/** -kernel, -initrd, -append, -no-reboot, -no-shutdown: how the guest starts and ends. */
import type { OptionSpec } from './option-spec.js';

const GROUP = 'Boot';

export const BOOT_OPTIONS: readonly OptionSpec[] = [
  {
    names: ['kernel'],
    arg: 'PATH',
    example: 'bzImage',
    group: GROUP,
    help: 'Linux kernel image to boot directly (bzImage or vmlinux)',
    apply(state, value) {
      state.kernel = value;
    },
  },
  {
    names: ['initrd'],
    arg: 'PATH',
    example: 'initrd.img',
    group: GROUP,
    help: 'initial ram disk for the -kernel',
    apply(state, value) {
      state.initrd = value;
    },
  },
  {
    names: ['append'],
    arg: 'CMDLINE',
    example: '"console=ttyS0"',
    allowEmpty: true,
    group: GROUP,
    help: 'kernel command line for the -kernel',
    apply(state, value) {
      state.append = value;
    },
  },
  {
    names: ['no-reboot'],
    group: GROUP,
    help: 'exit instead of rebooting when the guest reboots',
    apply(state) {
      state.noReboot = true;
    },
  },
  {
    names: ['no-shutdown'],
    group: GROUP,
    help: 'keep the VMM and its monitors running after the guest powers off',
    apply(state) {
      state.noShutdown = true;
      state.note('-no-shutdown: the VMM and its monitors stay up after the guest powers off (use quit to end it)');
    },
  },
];
