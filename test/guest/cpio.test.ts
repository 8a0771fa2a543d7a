import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { type CpioEntry, CpioError, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, sortForArchive, writeCpio } from '../../src/guest/cpio.js';

/** An independent newc reader, written from the format description, to check the writer. */
interface Parsed {
  name: string;
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

function parseNewc(archive: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  const align = (n: number): number => (n + 3) & ~3;
  for (;;) {
    assert.equal(at % 4, 0, 'each header starts 4-byte aligned');
    const magic = archive.toString('ascii', at, at + 6);
    assert.equal(magic, '070701');
    const field = (i: number): number => parseInt(archive.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16);
    const nameSize = field(11);
    const fileSize = field(6);
    const nameStart = at + 110;
    assert.equal(archive[nameStart + nameSize - 1], 0, 'name is NUL-terminated');
    const name = archive.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataStart = align(nameStart + nameSize);
    const entry: Parsed = {
      name,
      ino: field(0),
      mode: field(1),
      nlink: field(4),
      mtime: field(5),
      rdevMajor: field(9),
      rdevMinor: field(10),
      data: archive.subarray(dataStart, dataStart + fileSize),
    };
    at = align(dataStart + fileSize);
    if (name === 'TRAILER!!!') {
      assert.equal(at, archive.length, 'nothing after the trailer');
      return out;
    }
    out.push(entry);
  }
}

const sample: CpioEntry[] = [
  { kind: 'dir', path: 'bin', mode: 0o755 },
  { kind: 'file', path: '/bin/busybox', mode: 0o100755, data: Buffer.from('\x7fELF fake') },
  { kind: 'symlink', path: 'bin/sh', target: '/bin/busybox' },
  { kind: 'dir', path: 'dev', mode: 0o755 },
  { kind: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
  { kind: 'file', path: './init', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { kind: 'file', path: 'empty', mode: 0o644, data: new Uint8Array(0) },
];

test('round trip: every kind of entry comes back with its type, mode, data and device numbers', () => {
  const parsed = parseNewc(writeCpio(sample));
  assert.deepEqual(
    parsed.map((p) => p.name),
    ['bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'init', 'empty'],
  );
  const by = new Map(parsed.map((p) => [p.name, p]));
  assert.equal(by.get('bin')!.mode, S_IFDIR | 0o755);
  assert.equal(by.get('bin/busybox')!.mode, S_IFREG | 0o755);
  assert.equal(by.get('bin/busybox')!.data.toString(), '\x7fELF fake');
  assert.equal(by.get('bin/sh')!.mode & S_IFMT, S_IFLNK);
  assert.equal(by.get('bin/sh')!.data.toString(), '/bin/busybox');
  assert.equal(by.get('dev/console')!.mode, S_IFCHR | 0o600);
  assert.deepEqual([by.get('dev/console')!.rdevMajor, by.get('dev/console')!.rdevMinor], [5, 1]);
  assert.equal(by.get('empty')!.data.length, 0);
  assert.ok(parsed.every((p) => p.mtime === 0), 'fixed mtime for reproducibility');
  assert.equal(new Set(parsed.map((p) => p.ino)).size, parsed.length, 'distinct inode numbers (no accidental hard links)');
});

test('output is reproducible byte for byte', () => {
  assert.ok(writeCpio(sample).equals(writeCpio(sample)));
});

test('property: arbitrary files round-trip with alignment for every name and size', () => {
  const nameArb = fc.stringMatching(/^[a-z0-9_.-]{1,20}$/).filter((n) => n !== '.' && n !== '..');
  fc.assert(
    fc.property(fc.uniqueArray(fc.record({ name: nameArb, data: fc.uint8Array({ maxLength: 70 }), mode: fc.integer({ min: 0, max: 0o7777 }) }), { selector: (r) => r.name, maxLength: 12 }), (files) => {
      const entries: CpioEntry[] = files.map((f) => ({ kind: 'file', path: f.name, mode: f.mode, data: f.data }));
      const parsed = parseNewc(writeCpio(entries));
      assert.equal(parsed.length, files.length);
      parsed.forEach((p, i) => {
        assert.equal(p.name, files[i].name);
        assert.equal(p.mode, S_IFREG | files[i].mode);
        assert.deepEqual(new Uint8Array(p.data), files[i].data);
      });
    }),
  );
});

test('rejects duplicate and escaping paths', () => {
  assert.throws(() => writeCpio([sample[0], { kind: 'dir', path: '/bin/', mode: 0o755 }]), CpioError);
  assert.throws(() => writeCpio([{ kind: 'file', path: '../etc/passwd', mode: 0o644, data: new Uint8Array(1) }]), CpioError);
  assert.throws(() => writeCpio([{ kind: 'dir', path: '/', mode: 0o755 }]), CpioError);
});

test('sortForArchive puts directories before their contents', () => {
  const sorted = sortForArchive([...sample].reverse()).map((e) => e.path.replace(/^\.?\//, ''));
  assert.ok(sorted.indexOf('bin') < sorted.indexOf('bin/sh'));
  assert.ok(sorted.indexOf('dev') < sorted.indexOf('dev/console'));
});

test('GNU cpio extracts the archive (interoperability)', { skip: spawnSync('cpio', ['--version']).status !== 0 && 'cpio not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-cpio-'));
  try {
    const archive = join(dir, 'a.cpio');
    // No device node: extracting one needs root; the listing below still covers it.
    writeFileSync(archive, writeCpio(sample.filter((e) => e.kind !== 'chardev')));
    const extract = spawnSync('cpio', ['-i', '-d', '--quiet', '-F', archive], { cwd: dir });
    assert.equal(extract.status, 0, extract.stderr.toString());
    assert.equal(readFileSync(join(dir, 'init'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(statSync(join(dir, 'bin/busybox')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(dir, 'bin/sh')), '/bin/busybox');
    const list = spawnSync('cpio', ['-t', '-v', '--quiet'], { input: writeCpio(sample) });
    assert.equal(list.status, 0, list.stderr.toString());
    assert.match(list.stdout.toString(), /^crw-------.*5,\s+1.*dev\/console$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
