/**
 * A QMP monitor on one chardev: a QmpSession per client, and the VM's events
 * fanned out to every client in command mode.
 */
import type { ChardevEndpoint } from '../../chardev/endpoint.js';
import type { Session } from '../../chardev/session.js';
import type { VmControl } from '../../vm/control.js';
import { hmpCommands as defaultHmpCommands } from '../hmp/commands.js';
import type { HmpCommandTable } from '../hmp/registry.js';
import { qmpCommands as defaultQmpCommands, qmpEvents as defaultQmpEvents } from './commands.js';
import type { QmpCommandTable, QmpEventList } from './registry.js';
import { QmpSession } from './session.js';

export interface QmpMonitorOptions {
  pretty?: boolean;
  commands?: QmpCommandTable;
  events?: QmpEventList;
  hmpCommands?: HmpCommandTable;
  maxPendingBytes?: number;
}

/** QEMU's event timestamp: wall-clock seconds and microseconds. */
export function qmpTimestamp(): { seconds: number; microseconds: number } {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return { seconds: Math.floor(micros / 1e6), microseconds: micros % 1e6 };
}

/** QEMU omits `data` for events that carry none (STOP, RESUME). */
export function buildQmpEvent(name: string, data: unknown): object {
  const event: Record<string, unknown> = { event: name };
  if (data !== null && typeof data === 'object') event.data = data;
  event.timestamp = qmpTimestamp();
  return event;
}

export class QmpMonitor {
  private readonly sessions = new Set<QmpSession>();
  private readonly listeners: Array<[string, (data?: unknown) => void]> = [];

  constructor(
    readonly endpoint: ChardevEndpoint,
    private readonly vm: VmControl,
    options: QmpMonitorOptions = {},
  ) {
    const sessionOptions = {
      vm,
      commands: options.commands ?? defaultQmpCommands,
      hmpCommands: options.hmpCommands ?? defaultHmpCommands,
      pretty: options.pretty,
      maxPendingBytes: options.maxPendingBytes,
    };
    for (const name of (options.events ?? defaultQmpEvents).list()) {
      const listener = (data?: unknown): void => this.broadcast(buildQmpEvent(name, data));
      vm.on(name, listener);
      this.listeners.push([name, listener]);
    }
    endpoint.on('session', (session: Session) => {
      const qmp = new QmpSession(session, sessionOptions);
      this.sessions.add(qmp);
      session.on('close', () => this.sessions.delete(qmp));
    });
    endpoint.start();
  }

  private broadcast(event: object): void {
    for (const session of this.sessions) session.sendEvent(event);
  }

  async close(): Promise<void> {
    for (const [name, listener] of this.listeners) this.vm.off(name, listener);
    await this.endpoint.close();
  }
}
