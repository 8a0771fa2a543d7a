/**
 * Connects COM1 to what `-serial` / `-nographic` chose: the terminal (with QEMU's
 * Ctrl-A escapes), a socket or pty chardev (guest output goes to every connected
 * client, any client's input goes to the guest), or nothing.
 */
import { openChardev } from '../chardev/open.js';
import { BroadcastChardev } from '../chardev/byte-chardev.js';
import type { ChardevSpec } from '../chardev/spec.js';
import type { SerialTarget } from './args/chardev-spec.js';
import { StdioConsole } from './console.js';

export interface SerialBackend {
  output(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export interface SerialHooks {
  toGuest(bytes: Uint8Array): void;
  quit(): void;
  notice(message: string): void;
}

export async function openSerialBackend(target: SerialTarget | undefined, hooks: SerialHooks): Promise<SerialBackend> {
  if (!target || target.kind === 'none' || target.kind === 'null') {
    return { output: () => {}, close: async () => {} };
  }
  if (target.kind === 'stdio') {
    const console = new StdioConsole({ toGuest: hooks.toGuest, quit: hooks.quit });
    console.attach();
    return { output: (b) => console.output(b), close: async () => console.detach() };
  }
  const chardev = new BroadcastChardev(await openChardev(target as ChardevSpec, { role: 'serial', notice: hooks.notice }));
  chardev.on('data', (chunk: Buffer) => hooks.toGuest(chunk));
  return { output: (bytes) => chardev.write(bytes), close: () => chardev.close() };
}
