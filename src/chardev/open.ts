/** Opens whatever chardev the CLI described. */
import type { ChardevEndpoint } from './endpoint.js';
import { PtyEndpoint } from './pty.js';
import { SocketServer } from './socket-server.js';
import type { ChardevSpec } from './spec.js';
import { StdioEndpoint } from './stdio.js';

export interface OpenChardevOptions {
  /** What the chardev is for, in error messages ('monitor', 'serial'). */
  role?: string;
  /** Told where a pty went, in QEMU's words: `char device redirected to /dev/pts/3 (label mon0)`. */
  notice?: (message: string) => void;
}

export async function openChardev(spec: ChardevSpec, options: OpenChardevOptions = {}): Promise<ChardevEndpoint> {
  switch (spec.kind) {
    case 'socket':
    case 'tcp':
      return SocketServer.listen(spec, { role: options.role });
    case 'stdio':
      return new StdioEndpoint();
    case 'pty': {
      const endpoint = PtyEndpoint.open();
      options.notice?.(`char device redirected to ${endpoint.pty.slavePath} (label ${spec.id ?? 'pty'})`);
      return endpoint;
    }
  }
}
