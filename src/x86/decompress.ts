/**
 * Host-side decompression of a bzImage payload. Under kvm_pvm the guest kernel's own
 * decompressor would run in KVM's instruction emulator at ~2M instructions/s (minutes for
 * an xz kernel), so the VMM unpacks the payload here and loads the vmlinux inside directly.
 * gzip is built into Node; other formats use the standard command-line tools if installed.
 */
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { KernelFormatError } from './kernel-format-error.js';

export type PayloadCompression = 'gzip' | 'xz' | 'zstd' | 'lz4' | 'lzma' | 'bzip2' | 'lzo' | 'none';

interface Format {
  name: Exclude<PayloadCompression, 'gzip' | 'none'>;
  magic: number[];
  /** Command and arguments that decompress stdin to stdout. */
  command: [string, ...string[]];
  /** Debian package that provides the command. */
  pkg: string;
}

/**
 * Formats other than gzip. The kernel build appends the uncompressed size as 4 bytes
 * (`size_append` in scripts/Makefile.lib) after these streams; it is stripped before
 * decompression, and xz is also told to stop after its first stream.
 */
const TOOL_FORMATS: Format[] = [
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], command: ['xz', '-dc', '--single-stream'], pkg: 'xz-utils' },
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd], command: ['zstd', '-dc'], pkg: 'zstd' },
  // The kernel uses lz4's legacy frame format (`lz4 -l`), magic 0x184C2102.
  { name: 'lz4', magic: [0x02, 0x21, 0x4c, 0x18], command: ['lz4', '-dc'], pkg: 'lz4' },
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68], command: ['bzip2', '-dc'], pkg: 'bzip2' },
  { name: 'lzo', magic: [0x89, 0x4c, 0x5a, 0x4f], command: ['lzop', '-dc'], pkg: 'lzop' },
  // Legacy .lzma has no real magic; the kernel's lzma streams start with properties 0x5d and a 0 byte.
  { name: 'lzma', magic: [0x5d, 0x00, 0x00], command: ['xz', '--format=lzma', '-dc'], pkg: 'xz-utils' },
];

const GZIP_MAGIC = [0x1f, 0x8b];
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
/** Generous ceiling for a decompressed kernel; a real vmlinux is tens of MiB. */
const MAX_DECOMPRESSED = 1024 * 1024 * 1024;

function startsWith(data: Uint8Array, magic: number[]): boolean {
  return data.length >= magic.length && magic.every((b, i) => data[i] === b);
}

export function detectCompression(payload: Uint8Array): PayloadCompression {
  if (startsWith(payload, GZIP_MAGIC)) return 'gzip';
  if (startsWith(payload, ELF_MAGIC)) return 'none';
  for (const f of TOOL_FORMATS) if (startsWith(payload, f.magic)) return f.name;
  throw new KernelFormatError(
    `bzImage payload has an unknown compression (first bytes ${Array.from(payload.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(' ')}): ` +
      'pass the uncompressed vmlinux instead, or build the kernel with CONFIG_KERNEL_GZIP=y',
  );
}

function runTool(format: Format, payload: Uint8Array): Uint8Array {
  const stream = payload.subarray(0, payload.length - 4); // drop the kernel's size_append trailer
  const [cmd, ...args] = format.command;
  const r = spawnSync(cmd, args, { input: stream, maxBuffer: MAX_DECOMPRESSED });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new KernelFormatError(
      `the kernel's payload is ${format.name}-compressed and the host tool '${cmd}' is not installed: ` +
        `install it (apt-get install ${format.pkg}), pass the uncompressed vmlinux, or build the kernel with CONFIG_KERNEL_GZIP=y`,
    );
  }
  if (r.error) throw new KernelFormatError(`decompressing the ${format.name} kernel payload with '${cmd}' failed: ${r.error.message}`);
  if (r.status !== 0) {
    const why = r.stderr.toString().trim().split('\n')[0] ?? '';
    throw new KernelFormatError(`decompressing the ${format.name} kernel payload with '${cmd}' failed (exit ${r.status}): ${why} — is the bzImage damaged?`);
  }
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}

/** Decompresses a bzImage payload into the vmlinux ELF (possibly followed by relocation data). */
export function decompressPayload(payload: Uint8Array): { data: Uint8Array; format: PayloadCompression } {
  const format = detectCompression(payload);
  if (format === 'none') return { data: payload, format };
  if (format === 'gzip') {
    try {
      const out = gunzipSync(payload, { maxOutputLength: MAX_DECOMPRESSED });
      return { data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), format };
    } catch (e) {
      throw new KernelFormatError(`decompressing the gzip kernel payload failed: ${(e as Error).message} — is the bzImage damaged?`);
    }
  }
  const tool = TOOL_FORMATS.find((f) => f.name === format)!;
  return { data: runTool(tool, payload), format };
}
