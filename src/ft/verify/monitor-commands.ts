/** FT verify mode's monitor side: `cuju-verify-every N` (HMP and QMP) and the mismatch event. */
import { registerHmpCommand, registerQmpCommand, registerQmpEvent } from '../../monitor/index.js';
import { ftOf } from '../controller.js';

export function registerFtVerifyCommands(): void {
  registerQmpEvent('CUJU_FT_VERIFY_MISMATCH');
  registerHmpCommand({
    name: 'cuju-verify-every',
    args: 'epochs:i',
    params: 'epochs',
    help: 'fault tolerance: compare the backup with the primary (RAM and device state hashes) every N epochs; 0 turns it off',
    handler: (ctx, args) => ftOf(ctx.vm).setVerifyEvery(args.int('epochs')),
  });
  registerQmpCommand({
    name: 'cuju-verify-every',
    args: { epochs: 'int' },
    handler: (ctx, args) => ftOf(ctx.vm).setVerifyEvery(args.epochs as number),
  });
}
