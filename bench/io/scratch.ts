/**
 * The benchmark's temporary files, in one folder removed at the end (also when the
 * run fails or is interrupted): the raw disk image both VMMs use in turn, the TCP
 * payload, and a web root for the client's reference httpd.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Scratch {
  image: string;
  payload: string;
  wwwDir: string;
  remove(): void;
}

export function createScratch(diskMiB: number, tcpBytes: number): Scratch {
  // Under /var/tmp rather than /tmp: cache=none needs O_DIRECT, which some tmpfs set-ups lack.
  const dir = mkdtempSync(join(process.env.BENCH_IO_TMPDIR ?? (process.platform === 'linux' ? '/var/tmp' : tmpdir()), 'cuju-bench-io-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', remove);
  const image = join(dir, 'disk.raw');
  // Zero-filled, not sparse: the first write pass then measures writes, not host block allocation.
  writeFileSync(image, Buffer.alloc(diskMiB * 1024 * 1024));
  const payload = join(dir, 'payload.bin');
  writeFileSync(payload, Buffer.alloc(tcpBytes, 0x5a));
  const wwwDir = join(dir, 'www');
  mkdirSync(wwwDir);
  writeFileSync(join(wwwDir, 'index.html'), 'ok\n');
  return { image, payload, wwwDir, remove };
}
