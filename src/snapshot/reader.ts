/**
 * The validating pass: reads a whole snapshot and checks everything (magic, version,
 * header CRC, machine match, every section's frame, order, CRC and contents, the
 * SHA-256 trailer, nothing after it) before anything is applied. Memory is not kept:
 * its runs are recorded by offset and re-read (and re-checked) when applied.
 * The checks themselves live in snapshot-parser.ts, shared with the stream reader.
 */
import type { VcpuState } from '../kvm/state/vcpu-state.js';
import type { VmState } from '../kvm/state/vm-state.js';
import { SequentialReader, type ByteSource } from './byte-source.js';
import { SnapshotError } from './errors.js';
import type { PageEncoding } from './format.js';
import type { MachineDescription } from './machine-description.js';
import { parseSnapshot, type ExpectedMachine } from './snapshot-parser.js';

export type { ExpectedMachine } from './snapshot-parser.js';

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

/** Reads and checks the whole snapshot in `source`; touches nothing outside it. */
export async function validateSnapshot(source: ByteSource, expected: ExpectedMachine): Promise<ValidatedSnapshot> {
  const reader = new SequentialReader(source);
  const memory: MemoryRunRef[] = [];
  const contents = await parseSnapshot(reader, expected, {
    // Only where the run is: its bytes are re-read by applySnapshot, not held.
    memory: ({ pass, gpa, pages, encoding, frameOffset, frameLength, crc }) => {
      memory.push({ pass, gpa, pages, encoding, frameOffset, frameLength, crc });
    },
  });
  if (!(await reader.atEnd())) throw new SnapshotError(`snapshot has bytes after its end (at byte ${contents.size}): the file is damaged or two snapshots were concatenated`);
  return { ...contents, memory };
}
