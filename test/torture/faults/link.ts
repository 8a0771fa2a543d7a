/**
 * Faults of the replication link (the backup VMM runs in its own network namespace,
 * test/helpers/backup-netns.ts): cut both ways (both sides see only silence: a heartbeat
 * timeout detects it, the lease picks the one that goes on), or slowed (nothing may
 * fail: the pair stays protected, the client is only slower).
 */
import { sleep, type FaultKind } from './fault.js';

export const cutLink: FaultKind = {
  name: 'cut-link',
  unavailable: (f) => (!f.heartbeat ? 'needs -ft-heartbeat (a cut link is only silence)' : !f.lease ? 'needs -ft-lease (both sides see the other vanish)' : false),
  needs: { backupNamespace: true },
  survivor: 'either',
  inject: async ({ backupNs, note }) => {
    backupNs!.cut();
    note(`replication link ${backupNs!.ns} cut both ways`);
  },
  settle: async ({ backupNs, net, note }) => {
    await sleep(1000);
    backupNs!.heal(net);
    note('replication link up again');
    await sleep(2000);
  },
};

export const slowLink: FaultKind = {
  name: 'slow-link',
  unavailable: () => false,
  needs: { backupNamespace: true },
  survivor: 'primary',
  inject: async ({ backupNs, note }) => {
    const how = backupNs!.slow(20, 5, 20_000);
    note(how.kind === 'netem' ? `replication link: netem delay ${how.delayMs} ms, loss ${how.lossPercent} %` : `replication link: no netem in this kernel; tbf rate ${how.rateKbit} kbit/s both ways`);
  },
  settle: async ({ backupNs }) => {
    backupNs!.unshape();
  },
};
