/**
 * One line for any error that reaches the top level. Our own typed errors already
 * carry a message that names the problem and the fix; anything else is reported
 * as an internal error (with CUJU_DEBUG=1 for the stack).
 */
const USER_ERRORS = new Set([
  'UsageError', 'InputFileError', 'UnsupportedError', 'KvmUnavailableError', 'KernelFormatError', 'InitrdTooLargeError',
  'CmdlineTooLongError', 'VmSetupError', 'ChardevError', 'MonitorError', 'BootParamsError', 'NativeAddonMissingError',
  'CpuidConfigError', 'E820Error', 'ImageOpenError', 'ImageFormatError', 'ImageLockedError', 'ImageOptionError',
  'TapError', 'BadMacError', 'VirtioLayoutError',
]);

export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const msg = e.message.replace(/^cuju: /, '').split('\n')[0];
    if (USER_ERRORS.has(e.name)) return msg;
    return `internal error: ${msg} (set CUJU_DEBUG=1 for details)`;
  }
  return `internal error: ${String(e)}`;
}
