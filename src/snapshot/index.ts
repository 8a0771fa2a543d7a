/** The snapshot format's public surface (docs/PROTOCOL.md describes the bytes). */
export { SnapshotError } from './errors.js';
export { FORMAT_VERSION, MAGIC } from './format.js';
export type { DeviceDescription, MachineDescription } from './machine-description.js';
export { SnapshotWriter } from './writer.js';
export { BufferSource, FileSource, type ByteSource } from './byte-source.js';
export { validateSnapshot, type ExpectedMachine, type ValidatedSnapshot } from './reader.js';
export { applySnapshot, type RestoreTarget } from './restore.js';
export {
  kvmRestoreTarget, restoreSnapshot, restoreSnapshotFile, saveSnapshot, saveSnapshotFile,
  type KvmMachineParts, type SnapshotSource,
} from './machine-snapshot.js';
export { restoreFromStream, type StreamRestoreOptions, type ValidatedSnapshotSummary } from './stream-restore.js';
