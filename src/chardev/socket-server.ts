/**
 * A listening socket (unix or TCP) that accepts many clients at once and
 * gives each its own Session. QEMU's socket chardev serves one client at a
 * time; monitors here serve several (a script and a human can share a
 * monitor socket), each with its own protocol state.
 */
import { EventEmitter } from 'node:events';
import { lstat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as net from 'node:net';
import { ChardevError } from './errors.js';
import type { ChardevEndpoint } from './endpoint.js';
import { StreamSession, type Session } from './session.js';
import type { SocketChardevSpec, TcpSocketChardevSpec, UnixSocketChardevSpec } from './spec.js';

/** sun_path is 108 bytes including the NUL; Node silently truncates longer paths. */
const MAX_UNIX_PATH_BYTES = 107;
const DEFAULT_MAX_CLIENTS = 64;

export interface SocketServerOptions {
  /** What the socket is for, in error messages: 'monitor', 'serial', ... */
  role?: string;
  /** Connections beyond this are closed at once, so a runaway client cannot exhaust fds. */
  maxClients?: number;
}

export class SocketServer extends EventEmitter implements ChardevEndpoint {
  private readonly clients = new Set<Session>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly address: string,
    private readonly maxClients: number,
  ) {
    super();
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listen on `spec`; throws ChardevError when the path or port cannot be used. */
  static async listen(spec: SocketChardevSpec, options: SocketServerOptions = {}): Promise<SocketServer> {
    const role = options.role ?? 'monitor';
    const maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
    if (spec.kind === 'tcp') {
      const { server, port } = await listenTcp(spec, role);
      const host = spec.host || '127.0.0.1';
      return new SocketServer(server, `tcp:${host}:${port}`, maxClients);
    }
    const server = await listenUnix(spec, role);
    return new SocketServer(server, `unix:${spec.path}`, maxClients);
  }

  sessions(): readonly Session[] {
    return [...this.clients];
  }

  /** Sessions are delivered as clients connect; nothing to do up front. */
  start(): void {}

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private accept(socket: net.Socket): void {
    if (this.closing || this.clients.size >= this.maxClients) {
      socket.destroy();
      return;
    }
    const session = new StreamSession(socket, socket, {
      description: `${this.address} client`,
      ownsStreams: true,
    });
    this.clients.add(session);
    session.on('close', () => this.clients.delete(session));
    this.emit('session', session);
  }

  private async shutDown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.clients) session.close();
    // Closing a unix listener makes libuv unlink its socket file (by name), so nothing is left behind.
    await stopped;
  }
}

function listenOnce(server: net.Server, options: net.ListenOptions): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => resolve(err);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}

/** Resolves to whether something accepts connections on `path` right now. */
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

async function listenUnix(spec: UnixSocketChardevSpec, role: string): Promise<net.Server> {
  const path = spec.path;
  if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
    throw new ChardevError(
      `${role} socket path ${path} is longer than ${MAX_UNIX_PATH_BYTES} bytes, the limit of a unix socket address: use a shorter path`,
    );
  }
  // Half-open: a client that shuts down its sending side still gets its answers.
  const server = net.createServer({ allowHalfOpen: true });
  let err = await listenOnce(server, { path });
  if (err?.code === 'EADDRINUSE') {
    await assertStaleSocket(path, role);
    // Nobody listens: a crashed earlier run left its socket file behind. Take it over.
    await unlink(path).catch(() => undefined);
    err = await listenOnce(server, { path });
    if (err?.code === 'EADDRINUSE') throw inUseError(role, path);
  }
  if (err) throw await unixListenError(err, role, path);
  return server;
}

async function assertStaleSocket(path: string, role: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats && !stats.isSocket()) {
    throw new ChardevError(
      `${role} socket path ${path} already exists and is not a socket: remove it or choose another path`,
    );
  }
  if (await someoneListens(path)) throw inUseError(role, path);
}

function inUseError(role: string, path: string): ChardevError {
  return new ChardevError(`${role} socket ${path} is in use by another process (is another cuju running?)`);
}

async function unixListenError(err: NodeJS.ErrnoException, role: string, path: string): Promise<ChardevError> {
  // libuv reports a missing directory as EACCES (for Windows' sake), so look for ourselves.
  const dirExists = await lstat(dirname(path)).then(() => true, () => false);
  if (!dirExists) return new ChardevError(`cannot create ${role} socket ${path}: directory ${dirname(path)} does not exist`);
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return new ChardevError(`cannot create ${role} socket ${path}: permission denied in ${dirname(path)}`);
    default:
      return new ChardevError(`cannot create ${role} socket ${path}: ${err.message}`);
  }
}

async function listenTcp(spec: TcpSocketChardevSpec, role: string): Promise<{ server: net.Server; port: number }> {
  const host = spec.host || '127.0.0.1';
  if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) {
    throw new ChardevError(`${role} port ${spec.port} is not a TCP port number (0-65535)`);
  }
  const server = net.createServer({ allowHalfOpen: true });
  const err = await listenOnce(server, { host, port: spec.port });
  if (err?.code === 'EADDRINUSE') {
    throw new ChardevError(`${role} port ${host}:${spec.port} is in use by another process (is another cuju running?)`);
  }
  if (err) throw new ChardevError(`cannot listen for ${role} on ${host}:${spec.port}: ${err.message}`);
  const address = server.address() as net.AddressInfo;
  return { server, port: address.port };
}
