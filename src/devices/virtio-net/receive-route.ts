/**
 * Tap.receive() takes one handler for the tap's whole life, but the machine builds a
 * fresh device model on every board reset (VirtioDeviceFactory.create) over the same
 * open tap. So the first device attaches one forwarding handler per back end and every
 * later device re-points it. (A Tap.stopReceive() in src/net would make this unnecessary.)
 */
import type { TapPacketHandler } from '../../net/tap.js';
import type { NetBackend } from './backend.js';

interface Route {
  handler?: TapPacketHandler;
  onError?: (error: Error) => void;
}

const routes = new WeakMap<NetBackend, Route>();

/**
 * Sends `backend`'s received packets to `handler` from now on (replacing an earlier
 * device's). The back end is left paused: the device resumes it when it can take packets.
 */
export function routeReceive(backend: NetBackend, handler: TapPacketHandler, onError: (error: Error) => void): void {
  backend.pauseReceive();
  let route = routes.get(backend);
  if (!route) {
    const created: Route = {};
    route = created;
    routes.set(backend, created);
    backend.receive(
      (packet) => {
        // A packet with nobody to take it (no device attached) is lost, as on an unplugged NIC.
        if (created.handler) created.handler(packet);
        else backend.pauseReceive();
      },
      (error) => created.onError?.(error),
    );
  }
  route.handler = handler;
  route.onError = onError;
}
