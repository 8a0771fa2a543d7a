/**
 * One sequential pass over a snapshot, shared by the file reader (validateSnapshot, which
 * re-reads memory later) and the stream reader (restoreFromStream, which writes memory
 * as it arrives): magic, version, header CRC, machine match, then every section frame
 * (type, order, length limit, CRC before any payload byte is looked at), the payload's
 * contents, and the SHA-256 trailer. What happens at the end of the stream (nothing may
 * follow, or the socket carries on) is the caller's business.
 */
import { createHash } from 'node:crypto';
import { KvmStateError } from '../kvm/state/errors.js';
import type { KvmStateCapabilities } from '../kvm/state/support.js';
import { validateVcpuState, type VcpuState } from '../kvm/state/vcpu-state.js';
import { validateVmState, type VmState } from '../kvm/state/vm-state.js';
import { crc32Continue, crc32Of } from './crc.js';
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
  /** Checks one device's state (throwing any Error); runs before anything but RAM is restored. */
  validateDevice?: (device: DeviceDescription, state: unknown) => void;
}

/** Where the parser's bytes come from: exact-length sequential reads. */
export interface ExactReader {
  /** Bytes consumed so far. */
  readonly offset: number;
  /** Exactly `length` bytes, or a SnapshotError naming the truncation (inside `what`). */
  exact(length: number, what: string): Promise<Uint8Array>;
  /** Like exact(), as several pieces when that spares joining them (a stream's chunks). */
  pieces?(length: number, what: string): Promise<Uint8Array[]>;
}

/** A memory section whose frame, CRC and run header have been checked. */
export interface CheckedMemorySection {
  pass: number;
  gpa: number;
  pages: number;
  encoding: PageEncoding;
  /** The page bytes, in pieces to be written one after another (none for the zero encoding). */
  data: Uint8Array[];
  /** Offset of the section frame in the stream. */
  frameOffset: number;
  /** Frame header + payload length (the CRC covers exactly these bytes). */
  frameLength: number;
  crc: number;
}

/** Everything but memory, all checked against the expected machine. */
export interface SnapshotContents {
  machine: MachineDescription;
  vcpus: VcpuState[];
  vm: VmState;
  devices: unknown[];
  /** Total bytes, trailer included. */
  size: number;
}

export interface ParseHooks {
  /** Called once per memory section, in stream order, after its CRC has been checked. */
  memory(section: CheckedMemorySection): void | Promise<void>;
  /** Called after each section with the bytes consumed so far. */
  sectionDone?(bytes: number): void;
}

function damaged(where: string, what: string): SnapshotError {
  return new SnapshotError(`snapshot ${where} ${what}: the file is damaged`);
}

/** Reads one snapshot from `input` up to and including its (verified) trailer. */
export async function parseSnapshot(input: ExactReader, expected: ExpectedMachine, hooks: ParseHooks): Promise<SnapshotContents> {
  const hash = createHash('sha256');
  const read = async (n: number, what: string) => {
    const b = await input.exact(n, what);
    hash.update(b);
    return b;
  };

  const prefix = await read(HEADER_PREFIX_SIZE, 'the header');
  const headerSize = decodeHeaderPrefix(prefix);
  const rest = await read(headerSize - HEADER_PREFIX_SIZE, 'the header');
  const machine = decodeHeader(Buffer.concat([prefix, rest]));
  checkMachineMatch(machine, expected);

  const order = new SectionOrder(machine.vcpuCount, machine.devices.length);
  const vcpus: VcpuState[] = [];
  const devices: unknown[] = [];
  let vm: VmState | undefined;

  while (!order.finished) {
    const frameOffset = input.offset;
    const frame = Buffer.from(await read(FRAME_HEADER_SIZE, 'a section header'));
    const type = frame.readUInt32LE(0);
    const index = frame.readUInt32LE(4);
    const length = frame.readBigUInt64LE(8);
    const name = SECTION_NAMES[type];
    const where = `section ${name ?? type} ${index} (at byte ${frameOffset})`;
    if (name === undefined) throw damaged(where, 'has an unknown type');
    order.accept(type, index);
    if (length > BigInt(MAX_PAYLOAD[type])) throw damaged(where, `claims ${length} bytes, more than a ${name} section holds (${MAX_PAYLOAD[type]})`);
    // Memory, the bulk of a stream, may stay in the pieces it arrived in; the rest is small.
    const body = type === SectionType.Memory && input.pieces ? await input.pieces(Number(length), where) : [await input.exact(Number(length), where)];
    for (const piece of body) hash.update(piece);
    const crcBytes = Buffer.from(await read(FRAME_CRC_SIZE, `the CRC of ${where}`));
    const crc = body.reduce((c, piece) => crc32Continue(piece, c), crc32Of(frame));
    if (crc !== crcBytes.readUInt32LE(0)) throw damaged(where, 'fails its CRC check');
    const payload = body.length === 1 ? body[0] : new Uint8Array(0); // only memory comes in several pieces

    switch (type) {
      case SectionType.Memory:
        await hooks.memory({
          pass: index, frameOffset, frameLength: FRAME_HEADER_SIZE + Number(length), crc,
          ...memoryRun(body, Number(length), machine, where),
        });
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
    hooks.sectionDone?.(input.offset);
  }

  const size = input.offset + TRAILER_SIZE;
  const digest = hash.digest();
  const trailer = await input.exact(TRAILER_SIZE, 'the SHA-256 trailer');
  if (!digest.equals(trailer)) throw new SnapshotError('snapshot SHA-256 mismatch: the file is damaged');
  return { machine, vcpus, vm: vm!, devices, size };
}

/** The run header (first bytes of `body`) checked against the payload length and the machine's RAM. */
function memoryRun(body: Uint8Array[], length: number, machine: MachineDescription, where: string): Pick<CheckedMemorySection, 'gpa' | 'pages' | 'encoding' | 'data'> {
  if (length < MEMORY_RUN_HEADER_SIZE) throw damaged(where, 'is shorter than a memory run header');
  const [b, data] = splitFront(body, MEMORY_RUN_HEADER_SIZE);
  const gpa = b.readBigUInt64LE(0);
  const pages = b.readUInt32LE(8);
  const encoding = b.readUInt32LE(12);
  if (encoding !== PageEncoding.Data && encoding !== PageEncoding.Zero) throw damaged(where, `has unknown page encoding ${encoding}`);
  if (pages < 1 || pages > MAX_PAGES_PER_RUN) throw damaged(where, `holds ${pages} pages (1..${MAX_PAGES_PER_RUN} allowed)`);
  const dataBytes = encoding === PageEncoding.Data ? pages * PAGE_SIZE : 0;
  if (length !== MEMORY_RUN_HEADER_SIZE + dataBytes) throw damaged(where, `is ${length} bytes, its ${pages} pages need ${MEMORY_RUN_HEADER_SIZE + dataBytes}`);
  if (gpa % BigInt(PAGE_SIZE) !== 0n || gpa + BigInt(pages * PAGE_SIZE) > BigInt(machine.ramBytes)) {
    throw damaged(where, `covers 0x${gpa.toString(16)}+${pages} pages, outside the machine's ${machine.ramBytes} bytes of RAM`);
  }
  return { gpa: Number(gpa), pages, encoding, data };
}

/** The first `n` bytes of `pieces` joined, and the pieces of everything after them (no copy). */
function splitFront(pieces: Uint8Array[], n: number): [Buffer, Uint8Array[]] {
  const front = Buffer.alloc(n);
  const after: Uint8Array[] = [];
  let got = 0;
  for (const p of pieces) {
    const take = Math.min(n - got, p.length);
    front.set(p.subarray(0, take), got);
    got += take;
    if (take < p.length) after.push(p.subarray(take));
  }
  return [front, after];
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
