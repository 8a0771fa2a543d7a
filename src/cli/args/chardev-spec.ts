/**
 * Character-device and monitor descriptions as the command line produces them.
 *
 * The monitor/chardev engineer owns the runtime types (planned in
 * src/chardev/spec.ts and src/monitor/spec.ts); those files did not exist yet
 * when the parser was written, so these are defined here to be structurally
 * compatible with the agreed shapes: `{ kind: 'socket', path, server: true,
 * wait }`, `{ kind: 'stdio' }`, and `{ mode, chardev }`. Once the runtime files
 * land, this module should re-export them instead.
 */

/** A listening unix-domain socket (QEMU `socket,path=P,server=on`). */
export interface UnixSocketChardev {
  kind: 'socket';
  path: string;
  /** Only server sockets are supported; client mode is rejected by the parser. */
  server: true;
  /** QEMU's `wait`: block start-up until the first client connects. */
  wait: boolean;
}

/** A listening TCP socket (QEMU `socket,host=H,port=P,server=on` or `tcp:H:P,server`). */
export interface TcpSocketChardev {
  kind: 'tcp';
  host: string;
  port: number;
  server: true;
  wait: boolean;
  /** QEMU's `nodelay` (`delay=off`): set TCP_NODELAY on accepted connections. */
  noDelay: boolean;
}

export interface StdioChardev {
  kind: 'stdio';
}

/** A new pseudo-terminal; its /dev/pts path is reported at start-up (as QEMU does). */
export interface PtyChardev {
  kind: 'pty';
}

/** Accepts and discards output, never produces input (QEMU `null`). */
export interface NullChardev {
  kind: 'null';
}

export type ChardevSpec =
  | UnixSocketChardev
  | TcpSocketChardev
  | StdioChardev
  | PtyChardev
  | NullChardev;

export type MonitorMode = 'readline' | 'control';

export interface MonitorSpec {
  /** 'readline' is HMP (the human monitor), 'control' is QMP. */
  mode: MonitorMode;
  chardev: ChardevSpec;
  /** QMP only: pretty-print JSON replies (`-mon ...,pretty=on`, `-qmp-pretty`). */
  pretty: boolean;
  /** The `-chardev id=` it came from, when it was named (for messages). */
  chardevId?: string;
}

/** What one `-serial` names: a character device, or `none` (no port at that index). */
export type SerialTarget = ChardevSpec | { kind: 'none' };
