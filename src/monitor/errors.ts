/**
 * A monitor command failed for a reason the user can act on. QMP answers it
 * as `{"error": {"class": errorClass, "desc": message}}`; HMP prints
 * `Error: message`. The classes are QEMU's (qapi/error.json).
 */
export type QmpErrorClass = 'GenericError' | 'CommandNotFound' | 'DeviceNotActive' | 'DeviceNotFound' | 'KVMMissingCap';

export class MonitorCommandError extends Error {
  override readonly name = 'MonitorCommandError';
  constructor(
    message: string,
    readonly errorClass: QmpErrorClass = 'GenericError',
  ) {
    super(message);
  }
}
