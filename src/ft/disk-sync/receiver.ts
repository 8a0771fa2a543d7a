/**
 * The backup's side of the initial disk copy (sender.ts explains why the result is the
 * primary's image at every committed epoch). Each record is read whole and CRC-checked
 * (format.ts), then validated against this host's disks (validation.ts) before it is
 * applied: data is written into the replicated image, zero ranges are punched out (or
 * written as zeros where the image cannot discard), a read-only disk's digest is
 * compared with this host's image. A refused copy leaves the images with the valid
 * records before the bad one applied; the next attempt copies everything again.
 */
import { DiskMismatchError } from './errors.js';
import type { FtDisk } from './disks.js';
import { readRecord, type ExactRead } from './format.js';
import { imageSha256 } from './image-digest.js';
import { DiskCopyValidator } from './validation.js';

export interface DiskCopyReceipt {
  /** Data bytes written into replicated images. */
  dataBytes: number;
  /** Bytes made zero (holes punched or zeros written). */
  zeroBytes: number;
  records: number;
}

const ZERO_WRITE_BYTES = 1024 * 1024;

export async function receiveDiskCopy(read: ExactRead, disks: readonly FtDisk[]): Promise<DiskCopyReceipt> {
  const validator = new DiskCopyValidator(disks);
  const receipt: DiskCopyReceipt = { dataBytes: 0, zeroBytes: 0, records: 0 };
  while (!validator.finished) {
    const step = validator.accept(await readRecord(read, receipt.records));
    receipt.records++;
    switch (step.kind) {
      case 'data':
        await step.disk.image.write(step.offset, step.data);
        receipt.dataBytes += step.data.byteLength;
        break;
      case 'zero':
        await zeroRange(step.disk, step.offset, step.length);
        receipt.zeroBytes += step.length;
        break;
      case 'digest': {
        const ours = await imageSha256(step.disk.image);
        if (!Buffer.from(ours).equals(step.sha256)) {
          throw new DiskMismatchError(`read-only disk '${step.disk.id}' holds other bytes here than on the primary: give both hosts the same image`);
        }
        break;
      }
      case 'start':
      case 'end':
        break;
    }
  }
  // The copy is the base every epoch's writes go on: make it durable once, here.
  await Promise.all(disks.filter((d) => d.mode === 'replicated').map((d) => d.image.flush()));
  return receipt;
}

async function zeroRange(disk: FtDisk, offset: number, length: number): Promise<void> {
  if (disk.image.canDiscard) {
    await disk.image.discard(offset, length);
    return;
  }
  const zeros = new Uint8Array(Math.min(ZERO_WRITE_BYTES, length));
  for (let at = offset; at < offset + length; at += zeros.length) {
    await disk.image.write(at, zeros.subarray(0, Math.min(zeros.length, offset + length - at)));
  }
}
