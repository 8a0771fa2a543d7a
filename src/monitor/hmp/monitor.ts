/** An HMP monitor on one chardev: an HmpSession for every client that connects. */
import type { ChardevEndpoint } from '../../chardev/endpoint.js';
import type { Session } from '../../chardev/session.js';
import type { VmControl } from '../../vm/control.js';
import { hmpCommands } from './commands.js';
import type { HmpCommandTable } from './registry.js';
import { HmpSession } from './session.js';

export class HmpMonitor {
  constructor(
    readonly endpoint: ChardevEndpoint,
    vm: VmControl,
    commands: HmpCommandTable = hmpCommands,
  ) {
    endpoint.on('session', (session: Session) => new HmpSession(session, vm, commands));
    endpoint.start();
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
