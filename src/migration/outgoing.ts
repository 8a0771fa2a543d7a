/**
 * One outgoing migration: to a file (a snapshot; the VM carries on afterwards) or live
 * over TCP with pre-copy (the VM ends up running at the destination and stays paused
 * here, QEMU's postmigrate).
 *
 * Live pre-copy: start dirty tracking, send all non-zero RAM while the guest runs, then
 * passes over the pages dirtied meanwhile until the last pass's dirty set could be sent
 * within the downtime limit at the measured rate (or the pass budget is spent); then
 * freeze the VM, send the final dirty set, the vCPU, VM and device state, and hand over.
 * Any failure or cancel before the destination confirms leaves this VM running as it was.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { captureVcpuState } from '../kvm/state/vcpu-state.js';
import { captureVmState } from '../kvm/state/vm-state.js';
import { saveSnapshotFile, type SnapshotSource } from '../snapshot/machine-snapshot.js';
import { SnapshotWriter } from '../snapshot/writer.js';
import { MigrationCancelledError, MigrationProtocolError } from './errors.js';
import { LineChannel } from './line-channel.js';
import type { DirtyPageTracker, MigratableMachine } from './migratable.js';
import { RateLimitedWritable } from './rate-limit.js';
import { emptyDiskCopyStats, emptyStats, type MigrationStats, type MigrationStatus } from './status.js';
import type { DiskCopySource } from '../ft/disk-sync/sender.js';
import type { MigrateTarget } from './uri.js';
import { hashDeviceStates, hashRam } from './verify.js';
import { commandMac, StreamMacWriter } from './auth.js';
import { authenticateDestination } from './auth-handshake.js';
import { encodeHello, encodeLine, parseReply, type SourceCommand } from './wire.js';

const PAGE = 4096;
/** Passes after the first before the switch-over is forced (a guest dirtying faster than the link never converges). */
const MAX_PASSES = 30;
const CONNECT_TIMEOUT_MS = 10_000;
/** How long the frozen source waits for 'loaded' after the stream (plus 10 s per GiB hashed in verify mode). */
const LOADED_TIMEOUT_MS = 30_000;

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new MigrationProtocolError(message)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface OutgoingOptions {
  verify: boolean;
  downtimeLimitMs: number;
  /** Bytes per second. */
  maxBandwidth: number;
  /**
   * Cuju fault tolerance: after the initial copy the destination stays paused as the
   * backup and this VM runs on; run() then leaves `handoff` for the FT engine.
   */
  ft?: boolean;
  /**
   * With ft: copies the replicated disks to the backup's images between the hello and
   * the RAM (src/ft/disk-sync; FtController.prepareSync() hands it out).
   */
  diskCopy?: DiskCopySource;
  /** -ft-key's shared key: authenticate the destination and the stream (auth.ts). */
  key?: Buffer;
}

/** What the FT engine takes over once a fault-tolerance migration's initial copy is done. */
export interface FtHandoff {
  socket: Socket;
  /** Bytes already read past the last line. */
  rest: Buffer;
  /** Still tracking: epoch 1 is what is written from the sync point on. */
  tracker: DirtyPageTracker;
  peer: string;
  /** -ft-key: the session key of the handshake; the FT channel's frames are tagged with it. */
  sessionKey?: Buffer;
}

export class OutgoingMigration extends EventEmitter {
  readonly stats: MigrationStats;
  private readonly started = performance.now();
  private readonly abort = new AbortController();
  private socket?: Socket;
  private resumeOnFailure = false;
  private limiter?: RateLimitedWritable;
  private finishedSwitchOver = false;
  /** Set when a fault-tolerance migration's initial copy is done (opts.ft). */
  handoff?: FtHandoff;
  /** -ft-key: the session key, and the MAC of the snapshot stream once it is sent. */
  private session?: Buffer;
  private streamMac?: Buffer;

  constructor(private readonly machine: MigratableMachine, private readonly target: MigrateTarget, private readonly opts: OutgoingOptions) {
    super();
    this.stats = emptyStats('setup', machine.description().ramBytes);
  }

  /** Runs to the end; never rejects (the outcome is in stats.status / stats.error). */
  async run(): Promise<void> {
    // stats start in 'setup' (so a status read before run() is right): announce it, as QEMU's MIGRATION event does.
    this.emit('status', 'setup');
    try {
      if (this.target.kind === 'file') await this.toFile(this.target.path);
      else await this.live(this.target.host, this.target.port);
      this.setStatus('completed');
    } catch (e) {
      this.stats.error = this.abort.signal.aborted ? undefined : (e as Error).message;
      if (this.resumeOnFailure && !this.finishedSwitchOver) await this.machine.cont();
      this.setStatus(this.abort.signal.aborted ? 'cancelled' : 'failed');
    } finally {
      this.socket?.destroy();
      this.stats.totalTimeMs = performance.now() - this.started;
    }
  }

  cancel(): void {
    if (this.abort.signal.aborted || this.finishedSwitchOver) return;
    this.setStatus('cancelling');
    this.abort.abort();
    this.socket?.destroy(new MigrationCancelledError());
  }

  setMaxBandwidth(bytesPerSecond: number): void {
    this.opts.maxBandwidth = bytesPerSecond;
    this.limiter?.setRate(bytesPerSecond);
  }

  private setStatus(s: MigrationStatus): void {
    if (this.stats.status === s) return;
    this.stats.status = s;
    this.stats.totalTimeMs = performance.now() - this.started;
    this.emit('status', s);
  }

  private checkCancelled(): void {
    if (this.abort.signal.aborted) throw new MigrationCancelledError();
  }

  private async toFile(path: string): Promise<void> {
    const wasRunning = this.machine.runState() === 'running';
    this.resumeOnFailure = wasRunning;
    this.stats.setupTimeMs = performance.now() - this.started;
    this.setStatus('active');
    const stoppedAt = performance.now();
    const src = await this.machine.freeze();
    this.setStatus('device');
    this.stats.transferredBytes = await saveSnapshotFile(path, src);
    this.stats.downtimeMs = performance.now() - stoppedAt;
    if (wasRunning) await this.machine.cont();
  }

  private async connect(host: string, port: number): Promise<Socket> {
    const socket = connect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${host}:${port} within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
      socket.once('connect', () => { clearTimeout(timer); resolve(); });
      socket.once('error', (e) => {
        clearTimeout(timer);
        const code = (e as NodeJS.ErrnoException).code;
        reject(new MigrationProtocolError(code === 'ECONNREFUSED'
          ? `nothing listens on ${host}:${port}: start the destination with -incoming tcp:0:${port} first`
          : `cannot connect to ${host}:${port}: ${e.message}`));
      });
    });
    return socket;
  }

  private async live(host: string, port: number): Promise<void> {
    const socket = await this.connect(host, port);
    this.checkCancelled();
    const replies = new LineChannel(socket);
    // The destination's first line: normally 'loaded' after the stream, but it comes
    // early when the destination refuses the stream (other RAM size...).
    let firstLine: string | undefined;
    let streamSent = false;
    const diskCopy = this.opts.ft ? this.opts.diskCopy : undefined;
    const hello = encodeHello({ verify: this.opts.verify, ft: this.opts.ft, diskCopy: diskCopy !== undefined, auth: this.opts.key !== undefined });
    socket.write(hello);
    // -ft-key: both sides prove the key before anything of the VM leaves this host.
    if (this.opts.key) {
      this.session = await authenticateDestination(socket, hello, this.opts.key,
        () => withTimeout(replies.next(), CONNECT_TIMEOUT_MS, `the destination did not answer the -ft-key handshake within ${CONNECT_TIMEOUT_MS / 1000} s`));
      this.checkCancelled();
    }
    const limiter = new RateLimitedWritable(socket, this.opts.maxBandwidth);
    this.limiter = limiter;
    const first = replies.next().then((l) => {
      firstLine = l;
      // A line before the whole stream went out is a refusal: the destination stopped
      // reading, so a write waiting for the socket to drain would wait for ever. Fail it.
      if (!streamSent) limiter.destroy(new MigrationProtocolError('the destination stopped reading the stream'));
      return l;
    });
    first.catch(() => {});
    const mem = this.machine.memory;
    const macWriter = this.session ? new StreamMacWriter(limiter, this.session) : undefined;
    const writer = new SnapshotWriter(macWriter ?? limiter, this.machine.description());
    const failWith = async <T>(p: Promise<T>): Promise<T> => {
      try {
        return await p;
      } catch (e) {
        this.checkCancelled();
        // Give a refusal from the destination a moment to arrive: it says why better than EPIPE.
        await Promise.race([first.catch(() => {}), new Promise((r) => setTimeout(r, 200))]);
        const refusal = firstLine === undefined ? undefined : safeReply(firstLine);
        if (refusal?.type === 'error') throw new MigrationProtocolError(`the destination refused the migration: ${refusal.message}`);
        throw e;
      }
    };

    const wasRunning = this.machine.runState() === 'running';
    this.resumeOnFailure = wasRunning;
    let tracker: DirtyPageTracker | undefined = this.machine.trackDirtyPages();
    try {
      this.stats.setupTimeMs = performance.now() - this.started;
      this.setStatus('active');
      // Through the MAC writer too: with -ft-key the stream MAC covers the disk copy.
      if (diskCopy) await failWith(diskCopy.send(macWriter ?? limiter, (this.stats.disk = emptyDiskCopyStats()), this.abort.signal));
      this.checkCancelled();
      let passStart = performance.now();
      let passBytes = writer.bytesWritten;
      await failWith(writer.writeRam(mem, 0));
      this.countPass(writer.bytesWritten - passBytes, performance.now() - passStart);
      let pass = 1;
      let dirty = tracker.harvest();
      this.noteDirty(dirty.count(), performance.now() - passStart);
      for (; pass <= MAX_PASSES; pass++) {
        this.checkCancelled();
        if (this.fitsDowntime(dirty.count())) break;
        passStart = performance.now();
        passBytes = writer.bytesWritten;
        await failWith(writer.writePages(mem, pass, dirty));
        this.countPass(writer.bytesWritten - passBytes, performance.now() - passStart);
        dirty = tracker.harvest();
        this.noteDirty(dirty.count(), performance.now() - passStart);
      }
      this.checkCancelled();

      const stoppedAt = performance.now();
      const src = await this.machine.freeze();
      // A cancel while the VM was being frozen: resume it (the catch does) rather than go on.
      this.checkCancelled();
      this.setStatus('device');
      // The last harvested set was not sent yet (it fitted the downtime): send it with
      // whatever was dirtied since, now that nothing changes any more.
      const final = dirty.union(tracker.harvest());
      if (!this.opts.ft) {
        tracker.stop();
        tracker = undefined;
      }
      await failWith(writer.writePages(mem, pass, final));
      this.stats.remainingBytes = 0;
      await failWith(this.writeMachineState(writer, src));
      streamSent = true;
      this.stats.transferredBytes = writer.bytesWritten + 16;

      // Our side of verify while the destination applies and hashes its side.
      const ours = this.opts.verify ? this.hashes(src) : undefined;
      // The VM is frozen while the destination applies and (verify) hashes: bounded wait.
      const loadedWithin = LOADED_TIMEOUT_MS + (this.opts.verify ? Math.ceil(mem.size / 2 ** 30) * 10_000 : 0);
      const reply = parseReply(await failWith(withTimeout(first, loadedWithin, `the destination did not confirm it loaded the VM within ${loadedWithin / 1000} s`)));
      if (reply.type === 'error') throw new MigrationProtocolError(`the destination could not load the VM: ${reply.message}`);
      if (reply.type !== 'loaded') throw new MigrationProtocolError('the destination replied out of turn');
      // The destination has read the whole stream, so every byte went through the MAC.
      this.streamMac = macWriter?.digest();
      if (this.opts.verify) this.verify(ours!, reply);
      // 'go' is the point of no return. Up to here a cancel, or a connection that is
      // already gone (so 'go' can't have left), still means the VM runs on here.
      this.checkCancelled();
      if (!socket.writable) throw new MigrationProtocolError('the connection to the destination broke before the switch-over');
      if (this.opts.ft && tracker) {
        // The destination stays paused as the backup; the VM will run on here, protected.
        replies.send(encodeLine(this.signed({ type: 'ft' })));
        this.handoff = { socket, rest: replies.detach(), tracker, peer: `${host}:${port}`, sessionKey: this.session };
        tracker = undefined;
        this.socket = undefined;
        this.stats.downtimeMs = performance.now() - stoppedAt;
        return;
      }
      replies.send(encodeLine(this.signed({ type: 'go' })));
      // From here the destination may be running the VM: never resume it here as well.
      this.finishedSwitchOver = true;
      const started = await replies.next().then(parseReply, (e: Error) => e);
      this.stats.downtimeMs = performance.now() - stoppedAt;
      this.machine.markMigrated();
      if (started instanceof Error || started.type !== 'started') {
        throw new MigrationProtocolError('the destination did not confirm it started the VM; the VM stays paused here (`cont` resumes it if the destination is not running it)');
      }
    } finally {
      tracker?.stop();
    }
  }

  private hashes(src: SnapshotSource): { ram: string; devices: string } {
    return { ram: hashRam(this.machine.memory), devices: hashDeviceStates(src.machine.devices.map((d, i) => src.deviceState(i, d))) };
  }

  private verify(ours: { ram: string; devices: string }, reply: { ramHash?: string; deviceHash?: string }): void {
    const { ram, devices } = ours;
    const bad: string[] = [];
    if (reply.ramHash !== ram) bad.push('guest RAM');
    if (reply.deviceHash !== devices) bad.push('device state');
    this.stats.verify = bad.length ? 'mismatch' : 'match';
    if (bad.length) {
      this.socketSendAbort(`verify mismatch in ${bad.join(' and ')}`);
      throw new MigrationProtocolError(`verify failed: the destination's ${bad.join(' and ')} differ from the source's; the VM keeps running here`);
    }
  }

  /** With -ft-key, a command carries the MAC that binds it to the stream (auth.ts). */
  private signed(command: SourceCommand): SourceCommand {
    if (!this.session || !this.streamMac) return command;
    return { ...command, mac: commandMac(this.session, command, this.streamMac) };
  }

  private socketSendAbort(reason: string): void {
    this.socket?.write(encodeLine(this.signed({ type: 'abort', reason: reason.slice(0, 1000) })));
  }

  private async writeMachineState(writer: SnapshotWriter, src: SnapshotSource): Promise<void> {
    const vcpus = src.vcpuFds.map((fd) => captureVcpuState(fd, src.support));
    const vm = captureVmState(src.vm, src.support.capabilities);
    const devices = src.machine.devices.map((d, i) => src.deviceState(i, d));
    for (const [i, s] of vcpus.entries()) await writer.writeVcpu(i, s);
    await writer.writeVm(vm);
    for (const [i, s] of devices.entries()) await writer.writeDevice(i, s);
    await writer.finish();
  }

  private countPass(bytes: number, ms: number): void {
    this.stats.transferredBytes += bytes;
    const pages = Math.floor(bytes / PAGE);
    this.stats.normalPages += pages;
    if (ms > 0) {
      this.stats.mbps = (bytes * 8) / 1000 / ms;
      this.stats.pagesPerSecond = (pages * 1000) / ms;
    }
    this.stats.totalTimeMs = performance.now() - this.started;
    this.emit('progress', this.stats);
  }

  private noteDirty(pages: number, ms: number): void {
    this.stats.dirtySyncCount++;
    this.stats.remainingBytes = pages * PAGE;
    this.stats.dirtyPagesRate = ms > 0 ? (pages * 1000) / ms : 0;
  }

  /** Would sending `pages` take no longer than the downtime limit at the rate seen so far? */
  private fitsDowntime(pages: number): boolean {
    const bytesPerMs = Math.min(this.opts.maxBandwidth / 1000, Math.max(1, (this.stats.mbps * 1e6) / 8 / 1000));
    return (pages * PAGE) / bytesPerMs <= this.opts.downtimeLimitMs;
  }
}

function safeReply(line: string) {
  try {
    return parseReply(line);
  } catch {
    return undefined;
  }
}
