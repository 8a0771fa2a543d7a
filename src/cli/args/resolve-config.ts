/**
 * Turns the accumulated parse state into a VmConfig: resolves chardev ids,
 * applies QEMU's defaults (a serial port on stdio under -nographic), and
 * checks the rules that span several options (one user per chardev, one user
 * of stdio, no stdio once daemonized, -initrd/-append only with -kernel).
 */
import type { ChardevSpec, MonitorSpec, SerialTarget } from './chardev-spec.js';
import type { ChardevTarget } from './chardev-options.js';
import type { ParseState } from './parse-state.js';
import type { VmConfig } from './vm-config.js';
import { UsageError } from './usage-error.js';
import { MONITOR_SOCKET_HINT } from './options-chardev.js';

/** QEMU's MAX_SERIAL_PORTS. */
const MAX_SERIAL_PORTS = 4;


export function resolveConfig(state: ParseState): { config: VmConfig; notes: string[] } {
  if (state.daemonize && state.nographic) {
    throw new UsageError(`-nographic cannot be used with -daemonize (use -serial ${MONITOR_SOCKET_HINT} instead)`);
  }
  const users = new ChardevUsers(state.chardevs);
  const serial = resolveSerial(state, users);
  const monitors = state.monitorRequests.map((request): MonitorSpec => {
    const chardev = users.take(request.target, request.flag);
    const chardevId = request.target.kind === 'ref' ? request.target.id : undefined;
    return { mode: request.mode, chardev, pretty: request.pretty, ...(chardevId ? { chardevId } : {}) };
  });
  users.checkStdio(state.daemonize);
  for (const id of users.unused()) state.note(`-chardev id=${id}: defined but not used by any -serial or -mon`);

  if (state.kernel === undefined) {
    if (state.initrd !== undefined) throw new UsageError('-initrd needs -kernel (cuju boots the kernel directly; add -kernel PATH)');
    if (state.append !== undefined) throw new UsageError('-append needs -kernel (cuju boots the kernel directly; add -kernel PATH)');
  }

  const config: VmConfig = {
    memoryMiB: state.memoryMiB,
    cpus: state.cpus,
    topology: state.topology,
    name: state.name,
    kernel: state.kernel,
    initrd: state.initrd,
    append: state.append,
    serial,
    chardevs: state.chardevs,
    monitors,
    nographic: state.nographic,
    noReboot: state.noReboot,
    noShutdown: state.noShutdown,
    daemonize: state.daemonize,
    pidfile: state.pidfile,
    incoming: state.incoming,
    drives: state.drives,
    devices: state.devices,
    netdevs: state.netdevs,
    nets: state.nets,
    ft: state.ft,
  };
  if (state.nographic && monitors.length === 0) {
    // QEMU multiplexes its monitor onto stdio with -nographic; cuju doesn't, so say where it is instead.
    state.note(`-nographic: serial console on stdio; the monitor is not multiplexed onto it (add -monitor ${MONITOR_SOCKET_HINT})`);
  }
  return { config, notes: state.notes() };
}

function resolveSerial(state: ParseState, users: ChardevUsers): SerialTarget[] {
  if (state.serialRequests.length > MAX_SERIAL_PORTS) {
    throw new UsageError(`-serial: at most ${MAX_SERIAL_PORTS} serial ports (COM1-COM4); remove ${state.serialRequests.length - MAX_SERIAL_PORTS}`);
  }
  if (state.serialRequests.length === 0) {
    if (state.nodefaults) return [];
    if (state.nographic) return [users.take({ kind: 'spec', spec: { kind: 'stdio' } }, '-nographic')];
    // QEMU would show COM1 on its graphical console; cuju has none, so say where the output went.
    state.note('no -serial and no -nographic: the guest serial console is discarded (add -nographic or -serial stdio to see it)');
    return [{ kind: 'null' }];
  }
  return state.serialRequests.map((request): SerialTarget =>
    request.target.kind === 'none' ? { kind: 'none' } : users.take(request.target, `-serial ${request.text}`),
  );
}

/**
 * Hands out chardevs and remembers who took them: cuju has no multiplexer
 * (QEMU's mux=on), so a chardev, and stdio in particular, has one user.
 */
class ChardevUsers {
  private readonly userOfId = new Map<string, string>();
  private readonly stdioUsers: string[] = [];

  constructor(private readonly chardevs: ReadonlyMap<string, ChardevSpec>) {}

  take(target: ChardevTarget, user: string): ChardevSpec {
    let spec: ChardevSpec;
    if (target.kind === 'ref') {
      const found = this.chardevs.get(target.id);
      if (!found) {
        throw new UsageError(`${user}: no -chardev with id '${target.id}' (define it, e.g. -chardev socket,id=${target.id},path=/tmp/${target.id}.sock,server=on,wait=off)`);
      }
      const previous = this.userOfId.get(target.id);
      if (previous !== undefined) {
        throw new UsageError(`${user}: chardev '${target.id}' is already used by ${previous} (cuju cannot share one; give each its own -chardev)`);
      }
      this.userOfId.set(target.id, user);
      spec = found;
    } else {
      spec = target.spec;
    }
    if (spec.kind === 'stdio') this.stdioUsers.push(user);
    return spec;
  }

  checkStdio(daemonize: boolean): void {
    if (daemonize && this.stdioUsers.length > 0) {
      throw new UsageError(`-daemonize: ${this.stdioUsers[0]} uses stdio, which a daemon does not have (use ${MONITOR_SOCKET_HINT} instead)`);
    }
    if (this.stdioUsers.length > 1) {
      throw new UsageError(
        `${this.stdioUsers[1]}: stdio is already used by ${this.stdioUsers[0]} (cuju cannot multiplex stdio; move one to ${MONITOR_SOCKET_HINT})`,
      );
    }
  }

  unused(): string[] {
    return [...this.chardevs.keys()].filter((id) => !this.userOfId.has(id));
  }
}
