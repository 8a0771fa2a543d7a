/**
 * The FT channel of channel.ts over a real loopback connection: HELLOs both ways, then
 * epochs, ACKs and CANCEL as FtPrimary and FtBackup use them. The case that matters:
 * cuju-migrate-cancel while the backup still has megabytes of epochs to read. The
 * backup acknowledges those epochs after the primary has finished with the connection;
 * it must still read every one of them and then the CANCEL (and exit), never see the
 * connection die first (it would take over: two VMs running the same guest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupChannel, openChannel, primaryChannel } from '../../../src/ft/channel.js';
import { socketPair } from '../../migration/socket-pair.js';
import { epoch, MACHINE, RAM_PAGES } from '../wire/fixtures.js';

const ALL_PAGES = Array.from({ length: RAM_PAGES }, (_, p) => p);

async function openBoth() {
  const pair = await socketPair();
  const [p, b] = await Promise.all([
    openChannel(pair.client, new Uint8Array(0), 'primary', MACHINE, 5000),
    openChannel(pair.server, new Uint8Array(0), 'backup', MACHINE, 5000, 0),
  ]);
  return { pair, primary: primaryChannel(pair.client, p), backup: backupChannel(pair.server, b) };
}

test('epochs go out in order, ACKs come back, CANCEL ends it', async () => {
  const { pair, primary, backup } = await openBoth();
  try {
    const acks: number[] = [];
    primary.onAck((n) => acks.push(n));
    for (let n = 1; n <= 3; n++) await primary.sendEpoch(epoch(n, [1, 2, 3, 7]));
    for (let n = 1; n <= 3; n++) {
      const m = await backup.next();
      assert.equal(m.type, 'epoch');
      assert.equal(m.type === 'epoch' && m.epoch.epoch, n);
      backup.sendAck(n);
    }
    // sendCancel resolves once the backup has read the CANCEL and hung up.
    const cancelled = primary.sendCancel('done');
    assert.deepEqual(await backup.next(), { type: 'cancel', reason: 'done' });
    backup.close();
    await cancelled;
    assert.deepEqual(acks, [1, 2, 3]);
  } finally {
    pair.close();
  }
});

test('cancel with epochs still unread by the backup: it reads them all, acknowledging each, and then the CANCEL', async () => {
  const { pair, primary, backup } = await openBoth();
  try {
    const EPOCHS = 10; // ~2.5 MB: the loopback socket buffers hold it all
    for (let n = 1; n <= EPOCHS; n++) await primary.sendEpoch(epoch(n, ALL_PAGES));
    // As FtPrimary.cancel: CANCEL, then end('off') closes the channel.
    let closedBy = '';
    primary.onClose((why) => { closedBy = why; });
    const cancelled = primary.sendCancel('protection cancelled on the primary').then(() => primary.close());
    // Only now does the backup get to read, acknowledging as FtBackup does.
    const seen: string[] = [];
    try {
      for (;;) {
        const m = await backup.next();
        if (m.type === 'cancel') {
          seen.push('cancel');
          break;
        }
        if (m.type !== 'epoch') continue; // no VERIFY here: verify mode is off
        seen.push(`epoch ${m.epoch.epoch}`);
        backup.sendAck(m.epoch.epoch);
        await new Promise((r) => setImmediate(r)); // the ACK leaves while epochs are still queued
      }
    } catch (e) {
      seen.push(`error: ${(e as Error).message}`);
    }
    assert.deepEqual(seen, [...Array.from({ length: EPOCHS }, (_, i) => `epoch ${i + 1}`), 'cancel']);
    backup.close(); // FtBackup hangs up on CANCEL
    const t0 = performance.now();
    await cancelled;
    assert.ok(performance.now() - t0 < 1000, 'the primary was done as soon as the backup hung up');
    assert.equal(closedBy, '', 'the backup hanging up after CANCEL is no loss');
  } finally {
    pair.close();
  }
});
