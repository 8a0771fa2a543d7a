/**
 * Exact-length reads straight off a paused socket (socket.read(n) on 'readable'), so
 * that everything not asked for stays in the socket for whoever reads next (the
 * snapshot stream restore, after the disk copy).
 */
import type { Socket } from 'node:net';
import { DiskCopyError } from './errors.js';

export function socketExactReader(socket: Socket): (n: number, what: string) => Promise<Uint8Array> {
  let offset = 0;
  return (n, what) => new Promise<Uint8Array>((resolve, reject) => {
    const finish = (e?: Error, b?: Buffer) => {
      socket.off('readable', tryRead).off('end', onEnd).off('close', onEnd).off('error', finish);
      if (e) reject(e);
      else {
        offset += n;
        resolve(b!);
      }
    };
    const onEnd = () => finish(new DiskCopyError(`the connection ended during the disk copy, inside ${what} (after ${offset} bytes)`));
    const tryRead = () => {
      const b = socket.read(n) as Buffer | null;
      // Once the stream has ended, read() hands over what is left, however short.
      if (!b) {
        if (socket.readableEnded || socket.destroyed) onEnd();
        return;
      }
      if (b.length < n) onEnd();
      else finish(undefined, b);
    };
    socket.on('readable', tryRead).once('end', onEnd).once('close', onEnd).once('error', finish);
    tryRead();
  });
}
