/**
 * The one error kernel loading throws for a user-supplied image it cannot use:
 * wrong format, damaged headers, unsupported compression, or a kernel that does
 * not fit the guest's RAM. The message names the problem and what to do about it.
 */
export class KernelFormatError extends Error {
  override readonly name = 'KernelFormatError';
}
