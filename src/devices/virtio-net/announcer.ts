/**
 * Announcing the NIC's MAC after the VM moved (migration, failover): QEMU's
 * qemu_announce_self, a RARP broadcast at once and then after each of announceDelays(),
 * so switches learn the new port without waiting for their entries to age out.
 * A new announcement replaces one still running; a VMM shutting down calls stop()
 * (the default rounds span 0.8 s).
 */
import { announceDelays, QEMU_ANNOUNCE_TIMING, rarpAnnounceFrame, type AnnounceTiming } from '../../net/announce.js';
import type { MacAddress } from '../../net/mac.js';
import { encodeVnetHeader, PLAIN_VNET_HEADER } from '../../net/vnet-header.js';
import type { NetBackend } from './backend.js';

export class Announcer {
  private timer?: NodeJS.Timeout;
  private finish?: () => void;

  /** `sent` is called after every frame handed to the back end; `warn` when sending failed. */
  constructor(
    private readonly backend: NetBackend,
    private readonly sent: () => void,
    private readonly warn: (message: string) => void,
  ) {}

  get running(): boolean {
    return this.finish !== undefined;
  }

  /** Sends the first round now; resolves after the last round (or when stopped or replaced). */
  announce(mac: MacAddress, timing: Readonly<AnnounceTiming> = QEMU_ANNOUNCE_TIMING): Promise<void> {
    this.stop();
    const packet = [encodeVnetHeader(PLAIN_VNET_HEADER), rarpAnnounceFrame(mac)];
    const delays = announceDelays(timing);
    return new Promise((resolve) => {
      this.finish = resolve;
      const round = (index: number): void => {
        this.timer = undefined;
        if (!this.sendRound(packet) || index === delays.length) {
          this.stop();
          return;
        }
        this.timer = setTimeout(() => round(index + 1), delays[index]);
      };
      if (timing.rounds > 0) round(0);
      else this.stop();
    });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const finish = this.finish;
    this.finish = undefined;
    finish?.();
  }

  private sendRound(packet: Uint8Array[]): boolean {
    try {
      this.backend.send(packet);
      this.sent();
      return true;
    } catch (e) {
      this.warn(`announcing on ${this.backend.name} failed: ${(e as Error).message}`);
      return false;
    }
  }
}
