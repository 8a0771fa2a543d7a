/**
 * What the CLI parser produces for a character device (`-chardev socket,...`,
 * `-qmp unix:P,server,nowait`, `-monitor stdio`, ...). The chardev layer opens
 * these; nothing here parses command lines.
 */

/**
 * A listening socket. `wait` is QEMU's `wait=on|off` (`nowait` = off). QEMU's
 * server chardevs wait for a first client before the VM starts by default; cuju
 * never blocks the VM on a monitor client, so `wait: true` is accepted and
 * behaves as `wait: false` (a client that connects later sees the same thing it
 * would have seen while the VM waited, minus the wait).
 */
export interface UnixSocketChardevSpec {
  kind: 'socket';
  /** The `id=` of `-chardev`, used in messages; absent for `-qmp unix:...`. */
  id?: string;
  path: string;
  server: true;
  wait: boolean;
}

/** `-chardev socket,host=H,port=P,server=on` / `-qmp tcp:H:P,server,nowait`. */
export interface TcpSocketChardevSpec {
  kind: 'tcp';
  id?: string;
  /** Address to listen on; QEMU's default is all interfaces, ours is 127.0.0.1 when empty. */
  host: string;
  /** 0 picks a free port (see SocketServer.address). */
  port: number;
  server: true;
  wait: boolean;
}

export interface StdioChardevSpec {
  kind: 'stdio';
  id?: string;
}

/** `-chardev pty`: needs a pseudo-terminal allocator (see pty.ts). */
export interface PtyChardevSpec {
  kind: 'pty';
  id?: string;
}

export type SocketChardevSpec = UnixSocketChardevSpec | TcpSocketChardevSpec;
export type ChardevSpec = SocketChardevSpec | StdioChardevSpec | PtyChardevSpec;

/** Short human form, as QEMU's `info chardev` filename column would show it. */
export function describeChardevSpec(spec: ChardevSpec): string {
  switch (spec.kind) {
    case 'socket':
      return `unix:${spec.path},server=on`;
    case 'tcp':
      return `tcp:${spec.host || '127.0.0.1'}:${spec.port},server=on`;
    case 'stdio':
      return 'stdio';
    case 'pty':
      return 'pty';
  }
}
