/**
 * Command lines for the two VMMs under test. The device flags are QEMU's own and
 * the same for both (cuju accepts QEMU's -drive/-device/-netdev syntax), so both
 * guests see the same virtio-mmio disk and NIC: only the VMM differs.
 */
import { CUJU, INITRD, KERNEL } from '../paths.js';

export const MEM_MIB = 128;

export interface GuestSetup {
  /** Raw disk image, attached as the guest's /dev/vda with cache=none (O_DIRECT on the host). */
  image: string;
  /** Tap to attach the guest's virtio-net to, with its address; undefined: no NIC. */
  net?: { tap: string; mac: string; guestAddress: string; gateway: string };
}

/** Kernel command line: the kernel configures eth0 itself (CONFIG_IP_PNP), no user-space set-up needed. */
export function kernelAppend(setup: GuestSetup): string {
  const base = 'console=ttyS0 quiet';
  if (!setup.net) return base;
  return `${base} ip=${setup.net.guestAddress}::${setup.net.gateway}:255.255.255.0::eth0:off`;
}

function deviceArgs(setup: GuestSetup): string[] {
  const args = [
    '-drive', `file=${setup.image},format=raw,if=none,id=disk0,cache=none`,
    '-device', 'virtio-blk-device,drive=disk0',
  ];
  if (setup.net) {
    args.push(
      '-netdev', `tap,id=net0,ifname=${setup.net.tap},script=no,downscript=no`,
      '-device', `virtio-net-device,netdev=net0,mac=${setup.net.mac}`,
    );
  }
  return args;
}

const commonArgs = (setup: GuestSetup) => [
  '-m', String(MEM_MIB), '-kernel', KERNEL, '-initrd', INITRD, '-append', kernelAppend(setup),
  '-serial', 'stdio', '-no-reboot', ...deviceArgs(setup),
];

export function cujuCommand(setup: GuestSetup): { command: string; args: string[] } {
  return { command: process.execPath, args: [CUJU, ...commonArgs(setup)] };
}

/**
 * QEMU microvm without ACPI: with auto-kernel-cmdline (its default) QEMU itself adds
 * the virtio_mmio.device= entries to the command line, as cuju does.
 */
export function qemuCommand(qemuBin: string, accel: 'tcg' | 'kvm', setup: GuestSetup): { command: string; args: string[] } {
  return {
    command: qemuBin,
    args: ['-M', 'microvm,acpi=off', '-accel', accel, '-cpu', accel === 'kvm' ? 'host' : 'max',
      '-nodefaults', '-no-user-config', '-display', 'none', ...commonArgs(setup)],
  };
}
