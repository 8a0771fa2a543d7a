/**
 * The validating pass: reads a whole snapshot and checks everything (magic, version,
 * header CRC, machine match, every section's frame, order, CRC and contents, the
 * SHA-256 trailer, nothing after it) before anything is applied. Memory is not kept:
 * its runs are recorded by offset and re-read (and re-checked) when applied.
 */
import { createHash } from 'node:crypto';
import { KvmStateError } from '../kvm/state/errors.js';
import type { KvmStateCapabilities } from '../kvm/state/support.js';
import { validateVcpuState, type VcpuState } from '../kvm/state/vcpu-state.js';
import { validateVmState, type VmState } from '../kvm/state/vm-state.js';
import { SequentialReader, type ByteSource } from './byte-source.js';
import { crc32Of } from './crc.js';
import { SnapshotError } from './errors.js';
import {
  FRAME_CRC_SIZE, FRAME_HEADER_SIZE, MAX_PAGES_PER_RUN, MAX_PAYLOAD, MEMORY_RUN_HEADER_SIZE, PAGE_SIZE,
  PageEncoding, SECTION_NAMES, SectionType, TRAILER_SIZE,
} from './format.js';
import { decodeHeader, decodeHeaderPrefix, HEADER_PREFIX_SIZE } from './header.js';
import { checkMachineMatch, type DeviceDescription, type MachineDescription } from './machine-description.js';
import { SectionOrder } from './section-order.js';
import { decodeVcpuState } from './vcpu-codec.js';
import { decodeVmState } from './vm-codec.js';

/** The machine a snapshot is about to be restored into. */
export interface ExpectedMachine extends MachineDescription {
  /** The target host's KVM capabilities: vCPU/VM state must fit them. Omit to check sizes only. */
  capabilities?: KvmStateCapabilities;
  /** Checks one device's state (throwing any Error); runs in the validating pass. */
  validateDevice?: (device: DeviceDescription, state: unknown) => void;
}

/** A memory section, located in the source to be re-read when applied. */
export interface MemoryRunRef {
  pass: number;
  gpa: number;
  pages: number;
  encoding: PageEncoding;
  /** Offset of the section frame in the source. */
  frameOffset: number;
  /** Frame header + payload length (the CRC covers exactly these bytes). */
  frameLength: number;
  crc: number;
}

export interface ValidatedSnapshot {
  machine: MachineDescription;
  memory: MemoryRunRef[];
  vcpus: VcpuState[];
  vm: VmState;
  devices: unknown[];
  /** Total bytes, trailer included. */
  size: number;
}

function damaged(where: string, what: string): SnapshotError {
  return new SnapshotError(`snapshot ${where} ${what}: the file is damaged`);
}

/** Reads and checks the whole snapshot in `source`; touches nothing outside it. */
export async function validateSnapshot(source: ByteSource, expected: ExpectedMachine): Promise<ValidatedSnapshot> {
  const reader = new SequentialReader(source);
  const hash = createHash('sha256');
  const read = async (n: number, what: string) => {
    const b = await reader.exact(n, what);
    hash.update(b);
    return b;
  };

  const prefix = await read(HEADER_PREFIX_SIZE, 'the header');
  const headerSize = decodeHeaderPrefix(prefix);
  const rest = await read(headerSize - HEADER_PREFIX_SIZE, 'the header');
  const header = Buffer.concat([prefix, rest]);
  const machine = decodeHeader(header);
  checkMachineMatch(machine, expected);

  const order = new SectionOrder(machine.vcpuCount, machine.devices.length);
  const memory: MemoryRunRef[] = [];
  const vcpus: VcpuState[] = [];
  const devices: unknown[] = [];
  let vm: VmState | undefined;

  while (!order.finished) {
    const frameOffset = reader.offset;
    const frame = Buffer.from(await read(FRAME_HEADER_SIZE, 'a section header'));
    const type = frame.readUInt32LE(0);
    const index = frame.readUInt32LE(4);
    const length = frame.readBigUInt64LE(8);
    const name = SECTION_NAMES[type];
    const where = `section ${name ?? type} ${index} (at byte ${frameOffset})`;
    if (name === undefined) throw damaged(where, 'has an unknown type');
    order.accept(type, index);
    if (length > BigInt(MAX_PAYLOAD[type])) throw damaged(where, `claims ${length} bytes, more than a ${name} section holds (${MAX_PAYLOAD[type]})`);
    const payload = await read(Number(length), `${where}`);
    const crcBytes = Buffer.from(await read(FRAME_CRC_SIZE, `the CRC of ${where}`));
    const crc = crc32Of(frame, payload);
    if (crc !== crcBytes.readUInt32LE(0)) throw damaged(where, 'fails its CRC check');

    switch (type) {
      case SectionType.Memory:
        memory.push({ pass: index, frameOffset, frameLength: FRAME_HEADER_SIZE + payload.length, crc, ...memoryRun(payload, machine, where) });
        break;
      case SectionType.Vcpu:
        vcpus.push(checked(() => decodeVcpuState(payload, `snapshot vCPU ${index} state`), (s) => {
          if (expected.capabilities) validateVcpuState(s, expected.capabilities, `snapshot vCPU ${index}`);
        }));
        break;
      case SectionType.Vm:
        vm = checked(() => decodeVmState(payload, 'snapshot VM state'), (s) => {
          if (expected.capabilities) validateVmState(s, expected.capabilities);
        });
        break;
      case SectionType.Device:
        devices.push(deviceState(payload, machine.devices[index], expected));
        break;
    }
  }

  const size = reader.offset + TRAILER_SIZE;
  const digest = hash.digest();
  const trailer = await reader.exact(TRAILER_SIZE, 'the SHA-256 trailer');
  if (!digest.equals(trailer)) throw new SnapshotError('snapshot SHA-256 mismatch: the file is damaged');
  if (!(await reader.atEnd())) throw new SnapshotError(`snapshot has bytes after its end (at byte ${size}): the file is damaged or two snapshots were concatenated`);
  return { machine, memory, vcpus, vm: vm!, devices, size };
}

function memoryRun(payload: Uint8Array, machine: MachineDescription, where: string): Pick<MemoryRunRef, 'gpa' | 'pages' | 'encoding'> {
  if (payload.length < MEMORY_RUN_HEADER_SIZE) throw damaged(where, 'is shorter than a memory run header');
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const gpa = b.readBigUInt64LE(0);
  const pages = b.readUInt32LE(8);
  const encoding = b.readUInt32LE(12);
  if (encoding !== PageEncoding.Data && encoding !== PageEncoding.Zero) throw damaged(where, `has unknown page encoding ${encoding}`);
  if (pages < 1 || pages > MAX_PAGES_PER_RUN) throw damaged(where, `holds ${pages} pages (1..${MAX_PAGES_PER_RUN} allowed)`);
  const dataBytes = encoding === PageEncoding.Data ? pages * PAGE_SIZE : 0;
  if (payload.length !== MEMORY_RUN_HEADER_SIZE + dataBytes) throw damaged(where, `is ${payload.length} bytes, its ${pages} pages need ${MEMORY_RUN_HEADER_SIZE + dataBytes}`);
  if (gpa % BigInt(PAGE_SIZE) !== 0n || gpa + BigInt(pages * PAGE_SIZE) > BigInt(machine.ramBytes)) {
    throw damaged(where, `covers 0x${gpa.toString(16)}+${pages} pages, outside the machine's ${machine.ramBytes} bytes of RAM`);
  }
  return { gpa: Number(gpa), pages, encoding };
}

/** Decodes a KVM state section and checks it against the target, as SnapshotErrors. */
function checked<T>(decode: () => T, validate: (s: T) => void): T {
  const s = decode();
  try {
    validate(s);
  } catch (e) {
    if (e instanceof KvmStateError) throw new SnapshotError(e.message);
    throw e;
  }
  return s;
}

function deviceState(payload: Uint8Array, device: DeviceDescription, expected: ExpectedMachine): unknown {
  const label = `${device.kind} '${device.id}'`;
  let state: unknown;
  try {
    state = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new SnapshotError(`snapshot state of device ${label} is not valid JSON: the file is damaged`);
  }
  if (expected.validateDevice) {
    try {
      expected.validateDevice(device, state);
    } catch (e) {
      throw new SnapshotError(`snapshot state of device ${label} is not usable: ${(e as Error).message}`);
    }
  }
  return state;
}
