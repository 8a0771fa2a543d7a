/**
 * Builds small synthetic kernels for loader tests: an x86-64 ELF with chosen PT_LOAD
 * segments, and a bzImage wrapping a (compressed) payload the way the kernel build does.
 */
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';

export interface FixtureSegment {
  paddr: number;
  data: Uint8Array;
  memsz?: number;
}

export interface ElfFixtureOptions {
  entry: number;
  segments: FixtureSegment[];
  machine?: number;
  type?: number;
  elfClass?: number;
}

export function makeElf(opts: ElfFixtureOptions): Uint8Array {
  const phoff = 64;
  const phnum = opts.segments.length + 1; // plus a PT_NOTE that must be ignored
  let dataOff = phoff + phnum * 56;
  const size = dataOff + opts.segments.reduce((n, s) => n + s.data.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, opts.elfClass ?? 2, 1, 1], 0);
  dv.setUint16(16, opts.type ?? 2, true);
  dv.setUint16(18, opts.machine ?? 0x3e, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(opts.entry), true);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, phnum, true);
  opts.segments.forEach((s, i) => {
    const ph = phoff + i * 56;
    dv.setUint32(ph, 1, true); // PT_LOAD
    dv.setUint32(ph + 4, 7, true);
    dv.setBigUint64(ph + 8, BigInt(dataOff), true);
    dv.setBigUint64(ph + 16, BigInt(s.paddr) | 0xffffffff80000000n, true); // vaddr: kernel map, must not be used
    dv.setBigUint64(ph + 24, BigInt(s.paddr), true);
    dv.setBigUint64(ph + 32, BigInt(s.data.length), true);
    dv.setBigUint64(ph + 40, BigInt(s.memsz ?? s.data.length), true);
    out.set(s.data, dataOff);
    dataOff += s.data.length;
  });
  const note = phoff + opts.segments.length * 56;
  dv.setUint32(note, 4, true); // PT_NOTE
  return out;
}

/** A tiny "vmlinux": 4 KiB of text at 16 MiB with a 8 KiB .bss tail, and data at 18 MiB. */
export function sampleVmlinux(): { elf: Uint8Array; text: Uint8Array; data: Uint8Array } {
  const text = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 1) & 0xff);
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 13 + 5) & 0xff);
  const elf = makeElf({
    entry: 0x1000000 + 0x200,
    segments: [
      { paddr: 0x1000000, data: text, memsz: 4096 + 8192 },
      { paddr: 0x1200000, data },
    ],
  });
  return { elf, text, data };
}

/** Appends the kernel build's `size_append`: the uncompressed size as LE u32. */
function withSizeTrailer(stream: Uint8Array, rawSize: number): Uint8Array {
  const out = new Uint8Array(stream.length + 4);
  out.set(stream);
  new DataView(out.buffer).setUint32(stream.length, rawSize, true);
  return out;
}

export type FixtureCompression = 'gzip' | 'xz' | 'zstd' | 'lz4' | 'bzip2' | 'lzma' | 'none';

const TOOL_ARGS: Record<Exclude<FixtureCompression, 'gzip' | 'none'>, [string, ...string[]]> = {
  xz: ['xz', '--check=crc32', '-c'],
  zstd: ['zstd', '-c', '-q'],
  lz4: ['lz4', '-l', '-c'],
  bzip2: ['bzip2', '-c'],
  lzma: ['xz', '--format=lzma', '-c'],
};

export function toolAvailable(c: FixtureCompression): boolean {
  if (c === 'gzip' || c === 'none') return true;
  const r = spawnSync(TOOL_ARGS[c][0], ['--version']);
  return !r.error;
}

export function compress(data: Uint8Array, c: FixtureCompression): Uint8Array {
  if (c === 'none') return data;
  if (c === 'gzip') return gzipSync(data);
  const [cmd, ...args] = TOOL_ARGS[c];
  const r = spawnSync(cmd, args, { input: data, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return withSizeTrailer(new Uint8Array(r.stdout), data.length);
}

export interface BzFixtureOptions {
  protocol?: number;
  xloadflags?: number;
  setupSects?: number;
  initrdAddrMax?: number;
}

/** A bzImage: setup sectors with a header, then decompressor-like bytes, then the payload. */
export function makeBzImage(payload: Uint8Array, opts: BzFixtureOptions = {}): Uint8Array {
  const setupSects = opts.setupSects ?? 3;
  const pmStart = (setupSects + 1) * 512;
  const payloadOffset = 0x300; // the decompressor's own code comes first
  const out = new Uint8Array(pmStart + payloadOffset + payload.length + 64);
  const dv = new DataView(out.buffer);
  out[0x1f1] = setupSects;
  dv.setUint16(0x1fe, 0xaa55, true);
  out[0x200] = 0xeb;
  out[0x201] = 0x6a; // header ends at 0x26c, as in protocol 2.15
  dv.setUint32(0x202, 0x53726448, true);
  dv.setUint16(0x206, opts.protocol ?? 0x020f, true);
  out[0x211] = 0x01; // LOADED_HIGH
  dv.setUint32(0x22c, opts.initrdAddrMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, 0x200000, true);
  dv.setUint16(0x236, opts.xloadflags ?? 0x1, true);
  dv.setUint32(0x238, 2048, true);
  dv.setUint32(0x248, payloadOffset, true);
  dv.setUint32(0x24c, payload.length, true);
  dv.setUint32(0x260, 0x2000000, true);
  out.fill(0x90, pmStart, pmStart + payloadOffset);
  out.set(payload, pmStart + payloadOffset);
  return out;
}
