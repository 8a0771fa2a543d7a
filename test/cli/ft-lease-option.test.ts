/** -ft-lease PATH[,ttl=MS] and the default lease next to a share-rw image. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ftLeaseFor, parseFtLeaseOption } from '../../src/cli/args/ft-lease-option.js';
import { openFtLease } from '../../src/cli/ft-lease.js';
import { UsageError } from '../../src/cli/args/usage-error.js';
import type { DeviceSpec } from '../../src/cli/args/devices.js';
import { nativeImageLocker } from '../../src/block/image-lock.js';
import { run, usageError } from './helpers.js';

test('-ft-lease is checked when parsed and kept for the VMM to open', () => {
  const { config, notes } = run('-ft-lease /mnt/nfs/vm1.lease,ttl=3000');
  assert.equal(config.ft.lease, '/mnt/nfs/vm1.lease,ttl=3000');
  assert.deepEqual(notes.filter((n) => n.startsWith('-ft-lease')), []);
  assert.deepEqual(parseFtLeaseOption('/mnt/nfs/vm1.lease,ttl=3000'), { path: '/mnt/nfs/vm1.lease', ttlMs: 3000, origin: '-ft-lease' });
  assert.deepEqual(parseFtLeaseOption('path=/a,,b.lease,ttl=800ms'), { path: '/a,b.lease', ttlMs: 800, origin: '-ft-lease' });
  assert.deepEqual(parseFtLeaseOption('/x.lease'), { path: '/x.lease', origin: '-ft-lease' });
  usageError('-ft-lease /x.lease,ttl=soon', /^cuju: -ft-lease: ttl=soon is not a lease time to live: give milliseconds 300\.\.600000 \(e\.g\. ttl=5000\)$/);
  usageError('-ft-lease /x.lease,ttl=10', /ttl=10 is not a lease time to live/);
  usageError('-ft-lease /x.lease,owner=me', /-ft-lease: unknown option 'owner'/);
  usageError('-ft-lease ttl=5000', /-ft-lease: no lease path given/);
});

const blk = (file: string, shareRw: boolean): DeviceSpec => ({ kind: 'virtio-blk', id: file, file, readonly: false, shareRw });

test('without -ft-lease, a share-rw image gets its lease next to it; otherwise there is none', () => {
  assert.deepEqual(ftLeaseFor(undefined, [blk('/own.img', false), blk('/nfs/vm.img', true)]), { path: '/nfs/vm.img.cuju-lease', origin: 'share-rw disk' });
  assert.equal(ftLeaseFor(undefined, [blk('/own.img', false)]), undefined);
  assert.equal(ftLeaseFor('/l.lease', [blk('/nfs/vm.img', true)])?.path, '/l.lease');
});

test('the VMM refuses to start with a lease it cannot use, naming the flag and the fix', { skip: nativeImageLocker() ? undefined : 'native addon not built' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-lease-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log: string[] = [];
  await assert.rejects(openFtLease('/nonexistent-cuju-folder/x.lease', [], (l) => log.push(l)), (e: Error) => e instanceof UsageError
    && /^cuju: -ft-lease: the lease file \/nonexistent-cuju-folder\/x\.lease cannot be opened for writing: its folder \/nonexistent-cuju-folder does not exist \(or is not mounted\)\. Give -ft-lease a path/.test(e.message));
  const image = join(dir, 'vm.img');
  writeFileSync(image, Buffer.alloc(65536));
  await assert.rejects(openFtLease(image, [], () => {}), /cuju: -ft-lease: the lease file .*vm\.img is not a cuju lease file \(it holds 65536 bytes/);
  const lease = await openFtLease(undefined, [blk(image, true)], (l) => log.push(l));
  assert.ok(lease);
  assert.equal(lease.where, `the lease file ${image}.cuju-lease`);
  assert.match(log.at(-1)!, /^split-brain lease: .*vm\.img\.cuju-lease \(next to the share-rw image, ttl 5000 ms\)$/);
  assert.equal(await openFtLease(undefined, [], () => {}), undefined);
});
