/** A vCPU's KVM state as the payload of a vcpu section (tagged records, see docs/PROTOCOL.md). */
import type { MsrValue, VcpuState } from '../kvm/state/vcpu-state.js';
import { SnapshotError } from './errors.js';
import { decodeRecords, encodeRecords, optionalRecord, readU32Record, requireRecord, u32Bytes } from './records.js';

export enum VcpuRecord {
  Cpuid = 1,
  MpState = 2,
  Regs = 3,
  Sregs = 4,
  Xsave = 5,
  Fpu = 6,
  Xcrs = 7,
  DebugRegs = 8,
  Lapic = 9,
  Msrs = 10,
  Events = 11,
  TscKhz = 12,
}

const NAMES: Record<number, string> = {
  1: 'cpuid', 2: 'mp-state', 3: 'regs', 4: 'sregs', 5: 'xsave', 6: 'fpu', 7: 'xcrs',
  8: 'debugregs', 9: 'lapic', 10: 'msrs', 11: 'vcpu-events', 12: 'tsc-khz',
};
const MSR_ENTRY = 16;

function encodeMsrList(msrs: MsrValue[]): Buffer {
  const b = Buffer.alloc(msrs.length * MSR_ENTRY);
  msrs.forEach((m, i) => {
    b.writeUInt32LE(m.index >>> 0, i * MSR_ENTRY);
    b.writeBigUInt64LE(BigInt.asUintN(64, m.data), i * MSR_ENTRY + 8);
  });
  return b;
}

function decodeMsrList(bytes: Uint8Array, where: string): MsrValue[] {
  if (bytes.length % MSR_ENTRY !== 0) throw new SnapshotError(`${where}: record msrs is ${bytes.length} bytes, not a multiple of ${MSR_ENTRY}`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / MSR_ENTRY }, (_, i) => ({
    index: b.readUInt32LE(i * MSR_ENTRY),
    data: b.readBigUInt64LE(i * MSR_ENTRY + 8),
  }));
}

export function encodeVcpuState(s: VcpuState): Buffer {
  const r: [number, Uint8Array][] = [
    [VcpuRecord.Cpuid, s.cpuid],
    [VcpuRecord.MpState, u32Bytes(s.mpState)],
    [VcpuRecord.Regs, s.regs],
    [VcpuRecord.Sregs, s.sregs],
    [s.fpu.kind === 'xsave' ? VcpuRecord.Xsave : VcpuRecord.Fpu, s.fpu.bytes],
  ];
  if (s.xcrs) r.push([VcpuRecord.Xcrs, s.xcrs]);
  if (s.debugRegs) r.push([VcpuRecord.DebugRegs, s.debugRegs]);
  r.push([VcpuRecord.Lapic, s.lapic], [VcpuRecord.Msrs, encodeMsrList(s.msrs)]);
  if (s.events) r.push([VcpuRecord.Events, s.events]);
  if (s.tscKhz !== undefined) r.push([VcpuRecord.TscKhz, u32Bytes(s.tscKhz)]);
  return encodeRecords(r);
}

/** Decodes the structure only; sizes against KVM's structs are checked by validateVcpuState. */
export function decodeVcpuState(payload: Uint8Array, where: string): VcpuState {
  const rec = decodeRecords(payload, NAMES, where);
  const need = (t: VcpuRecord) => requireRecord(rec, t, NAMES, where);
  const opt = (t: VcpuRecord) => optionalRecord(rec, t);
  const xsave = opt(VcpuRecord.Xsave);
  const fpu = opt(VcpuRecord.Fpu);
  if ((xsave === undefined) === (fpu === undefined)) throw new SnapshotError(`${where}: needs exactly one of the records xsave and fpu`);
  const tsc = rec.get(VcpuRecord.TscKhz);
  return {
    cpuid: need(VcpuRecord.Cpuid),
    mpState: readU32Record(need(VcpuRecord.MpState), 'mp-state', where),
    regs: need(VcpuRecord.Regs),
    sregs: need(VcpuRecord.Sregs),
    fpu: xsave ? { kind: 'xsave', bytes: xsave } : { kind: 'fpu', bytes: fpu! },
    xcrs: opt(VcpuRecord.Xcrs),
    debugRegs: opt(VcpuRecord.DebugRegs),
    lapic: need(VcpuRecord.Lapic),
    msrs: decodeMsrList(need(VcpuRecord.Msrs), where),
    events: opt(VcpuRecord.Events),
    tscKhz: tsc ? readU32Record(tsc, 'tsc-khz', where) : undefined,
  };
}
