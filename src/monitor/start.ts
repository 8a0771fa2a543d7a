/**
 * The one entry point the VMM calls: open every `-mon`/`-qmp`/`-monitor`
 * chardev and run the monitor on it. All-or-nothing: if one chardev cannot be
 * opened, the ones already opened are closed again and the error (a
 * ChardevError naming the problem) propagates.
 */
import type { ChardevEndpoint } from '../chardev/endpoint.js';
import { openChardev } from '../chardev/open.js';
import type { VmControl } from '../vm/control.js';
import { HmpMonitor } from './hmp/monitor.js';
import { QmpMonitor } from './qmp/monitor.js';
import type { MonitorSpec } from './spec.js';

export interface RunningMonitor {
  readonly spec: MonitorSpec;
  /** Where clients connect, e.g. `unix:/run/vm1.qmp`, `tcp:127.0.0.1:4444`, `pty:/dev/pts/3`. */
  readonly address: string;
}

export interface MonitorSet {
  readonly monitors: readonly RunningMonitor[];
  /** Disconnect all clients, stop listening, remove socket files. Idempotent. */
  close(): Promise<void>;
}

export interface StartMonitorsOptions {
  /** Messages QEMU prints on stderr at startup (where a pty went). */
  notice?: (message: string) => void;
}

export async function startMonitors(
  vm: VmControl,
  specs: readonly MonitorSpec[],
  options: StartMonitorsOptions = {},
): Promise<MonitorSet> {
  const endpoints: ChardevEndpoint[] = [];
  try {
    for (const spec of specs) endpoints.push(await openChardev(spec.chardev, { role: 'monitor', notice: options.notice }));
  } catch (err) {
    await Promise.allSettled(endpoints.map((e) => e.close()));
    throw err;
  }
  const monitors = specs.map((spec, i) =>
    spec.mode === 'control'
      ? new QmpMonitor(endpoints[i], vm, { pretty: spec.pretty })
      : new HmpMonitor(endpoints[i], vm),
  );
  let closing: Promise<void> | undefined;
  return {
    monitors: specs.map((spec, i) => ({ spec, address: endpoints[i].address })),
    close: () => {
      closing ??= Promise.all(monitors.map((m) => m.close())).then(() => undefined);
      return closing;
    },
  };
}
