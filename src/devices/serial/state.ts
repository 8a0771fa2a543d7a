/**
 * The UART's saved state: a plain JSON-able object, so it can travel in a snapshot or a
 * replication checkpoint. Everything the guest can observe is in it, including bytes
 * received but not yet read. Validated field by field on restore.
 */

export const SERIAL_STATE_VERSION = 1;
/** Upper bound accepted for a restored receive buffer (guards against absurd snapshots). */
export const MAX_RX_CAPACITY = 16 * 1024 * 1024;

export interface SerialState {
  version: 1;
  ier: number;
  lcr: number;
  mcr: number;
  /** Modem status register: status bits (7:4) and not-yet-read delta bits (3:0). */
  msr: number;
  scr: number;
  dll: number;
  dlm: number;
  /** The FIFO enable and trigger-level bits last written to FCR. */
  fcr: number;
  /** LSR overrun error not yet read. */
  overrun: boolean;
  /** THR-empty interrupt pending (not yet cleared by an IIR read or THR write). */
  thrEmptyPending: boolean;
  /** Receive buffer contents, base64. */
  rx: string;
  rxCapacity: number;
}

export class SerialStateError extends Error {
  override readonly name = 'SerialStateError';
}

const BYTE_FIELDS = ['ier', 'lcr', 'mcr', 'msr', 'scr', 'dll', 'dlm', 'fcr'] as const;

/** Checks an untrusted object (e.g. parsed JSON) and returns it typed, with the decoded receive bytes. */
export function validateSerialState(raw: unknown): { state: SerialState; rxBytes: Uint8Array } {
  if (typeof raw !== 'object' || raw === null) throw new SerialStateError('serial state must be an object');
  const s = raw as Record<string, unknown>;
  if (s.version !== SERIAL_STATE_VERSION) throw new SerialStateError(`serial state version ${String(s.version)} is not supported (expected ${SERIAL_STATE_VERSION})`);
  for (const f of BYTE_FIELDS) {
    const v = s[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff) throw new SerialStateError(`serial state field '${f}' must be a byte, got ${JSON.stringify(v)}`);
  }
  for (const f of ['overrun', 'thrEmptyPending'] as const) {
    if (typeof s[f] !== 'boolean') throw new SerialStateError(`serial state field '${f}' must be a boolean, got ${JSON.stringify(s[f])}`);
  }
  const cap = s.rxCapacity;
  if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1 || cap > MAX_RX_CAPACITY) {
    throw new SerialStateError(`serial state field 'rxCapacity' must be an integer in 1..${MAX_RX_CAPACITY}, got ${JSON.stringify(cap)}`);
  }
  if (typeof s.rx !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s.rx) || s.rx.length % 4 !== 0) {
    throw new SerialStateError("serial state field 'rx' must be a base64 string");
  }
  const buf = Buffer.from(s.rx, 'base64');
  if (buf.length > cap) throw new SerialStateError(`serial state holds ${buf.length} received bytes, more than its capacity ${cap}`);
  return { state: s as unknown as SerialState, rxBytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
}
