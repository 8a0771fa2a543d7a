/**
 * Intel MultiProcessor Specification 1.4 tables: how a kernel without ACPI learns the
 * CPUs (local APIC ids), the IOAPIC and how ISA IRQs reach IOAPIC pins. Linux finds the
 * floating pointer by scanning the last KiB below 640 KiB (where layout.ts puts it).
 *
 * Interrupt routing must match the VMM's KVM GSI routing. KVM's default routing
 * (kvm_setup_default_irq_routing) sends GSI n to IOAPIC pin n and, for n < 16, to PIC
 * IRQ n; the in-kernel PIT raises GSI 0. So with default routing the timer is on pin 0
 * (timerPin 0, what Firecracker does). A VMM that installs PC-style routing (GSI 0 ->
 * pin 2, as QEMU does) passes timerPin 2, and Linux then sees the usual "IRQ0 on pin 2"
 * override. Either way Linux's check_timer() finds the timer on its first try, which
 * matters here: each failed try costs seconds of emulated kernel code.
 */

export const MP_FLOATING_POINTER_SIZE = 16;
export const MP_CONFIG_HEADER_SIZE = 44;
export const MP_PROCESSOR_ENTRY_SIZE = 20;
export const MP_SMALL_ENTRY_SIZE = 8;

export const MP_ENTRY_PROCESSOR = 0;
export const MP_ENTRY_BUS = 1;
export const MP_ENTRY_IOAPIC = 2;
export const MP_ENTRY_IO_INTERRUPT = 3;
export const MP_ENTRY_LOCAL_INTERRUPT = 4;

export const MP_INT_TYPE_INT = 0;
export const MP_INT_TYPE_NMI = 1;
export const MP_INT_TYPE_EXTINT = 3;

/** irqflag: polarity bits 1:0, trigger bits 3:2; 0 = "conforms to the bus" (ISA: edge, active high). */
export const MP_IRQFLAG_CONFORMS = 0;
export const MP_IRQFLAG_LEVEL_ACTIVE_HIGH = (0b11 << 2) | 0b01;

export const LOCAL_APIC_ADDRESS = 0xfee00000;
export const IOAPIC_ADDRESS = 0xfec00000;
/** Version register values of KVM's in-kernel local APIC and IOAPIC. */
export const LOCAL_APIC_VERSION = 0x14;
export const IOAPIC_VERSION = 0x11;
/** KVM's IOAPIC has 24 pins. */
export const IOAPIC_PINS = 24;
/** 255 xAPIC ids minus one for the IOAPIC. */
export const MP_MAX_CPUS = 254;
export const ISA_BUS_ID = 0;

const CPU_FLAG_ENABLED = 0x01;
const CPU_FLAG_BSP = 0x02;
/** Family 6 signature and FPU|APIC feature bits: only informational to Linux, which uses CPUID. */
const DEFAULT_CPU_SIGNATURE = 0x600;
const DEFAULT_CPU_FEATURES = 0x201;

export class MpTableError extends Error {
  override readonly name = 'MpTableError';
}

export interface MpTableOptions {
  /** IOAPIC pin the timer (ISA IRQ 0, KVM GSI 0) arrives on: 0 with KVM's default routing, 2 with PC-style routing. Default 0. */
  timerPin?: 0 | 2;
  /** CPUID leaf 1 EAX and EDX to record per processor; defaults are placeholders Linux ignores. */
  cpuSignature?: number;
  cpuFeatures?: number;
}

/** Size in bytes of the tables for `cpuCount` CPUs. */
export function mpTableSize(cpuCount: number, opts: MpTableOptions = {}): number {
  return MP_FLOATING_POINTER_SIZE + MP_CONFIG_HEADER_SIZE + cpuCount * MP_PROCESSOR_ENTRY_SIZE
    + MP_SMALL_ENTRY_SIZE * (2 + ioInterrupts(opts.timerPin ?? 0).length + 2);
}

interface IoInterrupt {
  srcIrq: number;
  pin: number;
  flags: number;
}

/**
 * ISA IRQs 0..15 to pins 0..15 (IRQ 2, the PIC cascade, carries nothing), the timer on
 * `timerPin`, and pins 16..23 as extra device IRQs. Those are level-triggered: a device
 * that holds its line until the guest acknowledges (KVM_IRQ_LINE level semantics) must
 * not lose an interrupt that arrives while the line is still high, and irqfd pulses work
 * with level pins too.
 */
function ioInterrupts(timerPin: 0 | 2): IoInterrupt[] {
  const out: IoInterrupt[] = [{ srcIrq: 0, pin: timerPin, flags: MP_IRQFLAG_CONFORMS }];
  for (let irq = 1; irq < 16; irq++) {
    if (irq === 2) continue;
    out.push({ srcIrq: irq, pin: irq, flags: MP_IRQFLAG_CONFORMS });
  }
  for (let pin = 16; pin < IOAPIC_PINS; pin++) out.push({ srcIrq: pin, pin, flags: MP_IRQFLAG_LEVEL_ACTIVE_HIGH });
  return out;
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

function ascii(s: string, len: number): number[] {
  return Array.from(s.padEnd(len, ' ').slice(0, len), (c) => c.charCodeAt(0));
}

/**
 * The floating pointer followed by the configuration table, to be written at `baseGpa`
 * (the floating pointer's physptr points at baseGpa + 16).
 */
export function buildMpTable(cpuCount: number, baseGpa: number, opts: MpTableOptions = {}): Uint8Array {
  if (!Number.isInteger(cpuCount) || cpuCount < 1 || cpuCount > MP_MAX_CPUS) {
    throw new MpTableError(`MP table supports 1..${MP_MAX_CPUS} CPUs, got ${cpuCount}`);
  }
  if (!Number.isInteger(baseGpa) || baseGpa < 0 || baseGpa % 16 !== 0 || baseGpa + 16 > 2 ** 32) {
    throw new MpTableError(`MP table base 0x${baseGpa.toString(16)} must be 16-byte aligned and below 4 GiB`);
  }
  const timerPin = opts.timerPin ?? 0;
  const ioapicId = cpuCount;
  const size = mpTableSize(cpuCount, opts);
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  const configGpa = baseGpa + MP_FLOATING_POINTER_SIZE;

  // Floating pointer: "_MP_", physptr, length in 16-byte units, spec rev 1.4, checksum; feature bytes 0 = config table present, no IMCR.
  buf.set(ascii('_MP_', 4), 0);
  dv.setUint32(4, configGpa, true);
  buf[8] = 1;
  buf[9] = 4;
  buf[10] = checksum(buf.subarray(0, MP_FLOATING_POINTER_SIZE));

  const cfg = MP_FLOATING_POINTER_SIZE;
  let p = cfg + MP_CONFIG_HEADER_SIZE;
  let entries = 0;
  for (let id = 0; id < cpuCount; id++) {
    buf[p] = MP_ENTRY_PROCESSOR;
    buf[p + 1] = id;
    buf[p + 2] = LOCAL_APIC_VERSION;
    buf[p + 3] = CPU_FLAG_ENABLED | (id === 0 ? CPU_FLAG_BSP : 0);
    dv.setUint32(p + 4, (opts.cpuSignature ?? DEFAULT_CPU_SIGNATURE) >>> 0, true);
    dv.setUint32(p + 8, (opts.cpuFeatures ?? DEFAULT_CPU_FEATURES) >>> 0, true);
    p += MP_PROCESSOR_ENTRY_SIZE;
    entries++;
  }
  buf[p] = MP_ENTRY_BUS;
  buf[p + 1] = ISA_BUS_ID;
  buf.set(ascii('ISA', 6), p + 2);
  p += MP_SMALL_ENTRY_SIZE;
  entries++;

  buf[p] = MP_ENTRY_IOAPIC;
  buf[p + 1] = ioapicId;
  buf[p + 2] = IOAPIC_VERSION;
  buf[p + 3] = 1; // usable
  dv.setUint32(p + 4, IOAPIC_ADDRESS, true);
  p += MP_SMALL_ENTRY_SIZE;
  entries++;

  for (const irq of ioInterrupts(timerPin)) {
    buf[p] = MP_ENTRY_IO_INTERRUPT;
    buf[p + 1] = MP_INT_TYPE_INT;
    dv.setUint16(p + 2, irq.flags, true);
    buf[p + 4] = ISA_BUS_ID;
    buf[p + 5] = irq.srcIrq;
    buf[p + 6] = ioapicId;
    buf[p + 7] = irq.pin;
    p += MP_SMALL_ENTRY_SIZE;
    entries++;
  }
  // LINT0 of the BSP (APIC 0) as ExtINT: the 8259 PIC's virtual-wire path, which Linux uses
  // before (or instead of) the IOAPIC. LINT1 as NMI on every local APIC (destination 0xff).
  for (const [type, dest, lint] of [[MP_INT_TYPE_EXTINT, 0, 0], [MP_INT_TYPE_NMI, 0xff, 1]]) {
    buf[p] = MP_ENTRY_LOCAL_INTERRUPT;
    buf[p + 1] = type;
    dv.setUint16(p + 2, MP_IRQFLAG_CONFORMS, true);
    buf[p + 4] = ISA_BUS_ID;
    buf[p + 5] = 0;
    buf[p + 6] = dest;
    buf[p + 7] = lint;
    p += MP_SMALL_ENTRY_SIZE;
    entries++;
  }

  // Configuration table header: "PCMP", base table length, spec rev, OEM/product ids, entry count, LAPIC address.
  buf.set(ascii('PCMP', 4), cfg);
  dv.setUint16(cfg + 4, p - cfg, true);
  buf[cfg + 6] = 4;
  buf.set(ascii('CUJU', 8), cfg + 8);
  buf.set(ascii('CUJU VMM', 12), cfg + 16);
  dv.setUint16(cfg + 34, entries, true);
  dv.setUint32(cfg + 36, LOCAL_APIC_ADDRESS, true);
  buf[cfg + 7] = checksum(buf.subarray(cfg, p));
  return buf;
}
