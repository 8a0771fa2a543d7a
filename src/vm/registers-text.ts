/** QEMU-style `info registers` text from KVM register state. */
import type { Regs, Segment, Sregs } from '../kvm/structs.js';

const hex = (v: bigint, width = 16) => v.toString(16).padStart(width, '0');

function seg(name: string, s: Segment): string {
  const flags = (s.type << 8) | (s.s << 12) | (s.dpl << 13) | (s.present << 15) | (s.avl << 20) | (s.l << 21) | (s.db << 22) | (s.g << 23);
  return `${name.toUpperCase().padEnd(3)}=${s.selector.toString(16).padStart(4, '0')} ${hex(s.base)} ${s.limit.toString(16).padStart(8, '0')} ${flags.toString(16).padStart(8, '0')}`;
}

export function formatRegisters(cpu: number, r: Regs, s: Sregs): string {
  const cpl = s.cs.dpl;
  const lines = [
    `CPU#${cpu}`,
    `RAX=${hex(r.rax)} RBX=${hex(r.rbx)} RCX=${hex(r.rcx)} RDX=${hex(r.rdx)}`,
    `RSI=${hex(r.rsi)} RDI=${hex(r.rdi)} RBP=${hex(r.rbp)} RSP=${hex(r.rsp)}`,
    `R8 =${hex(r.r8)} R9 =${hex(r.r9)} R10=${hex(r.r10)} R11=${hex(r.r11)}`,
    `R12=${hex(r.r12)} R13=${hex(r.r13)} R14=${hex(r.r14)} R15=${hex(r.r15)}`,
    `RIP=${hex(r.rip)} RFL=${hex(r.rflags, 8)} CPL=${cpl}`,
    seg('es', s.es), seg('cs', s.cs), seg('ss', s.ss), seg('ds', s.ds), seg('fs', s.fs), seg('gs', s.gs),
    seg('ldt', s.ldt), seg('tr', s.tr),
    `GDT=     ${hex(s.gdt.base)} ${s.gdt.limit.toString(16).padStart(8, '0')}`,
    `IDT=     ${hex(s.idt.base)} ${s.idt.limit.toString(16).padStart(8, '0')}`,
    `CR0=${hex(s.cr0, 8)} CR2=${hex(s.cr2)} CR3=${hex(s.cr3)} CR4=${hex(s.cr4, 8)}`,
    `EFER=${hex(s.efer)} APIC_BASE=${hex(s.apicBase)}`,
  ];
  return lines.join('\n');
}
