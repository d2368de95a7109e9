// systemd integration as a feature: READY=1 after the first processed frame, the
// watchdog fed from the health clock, STOPPING=1 when the agent begins to stop. Does
// nothing outside systemd (no NOTIFY_SOCKET).
import type { Feature, FeatureContext } from '../feature.js';
import { SystemdNotifier } from './notify.js';

export function fromConfig({ bus, health, env, log }: FeatureContext): Feature {
  const name = 'systemd';
  // A paused agent processes no frame on purpose, and is healthy: the watchdog stays fed.
  const notifier = new SystemdNotifier({ env, log: log.child({ feature: name }), lastFrameAt: () => (health.paused ? Date.now() : health.lastFrameAt) });
  return {
    name,
    start: () => {
      notifier.start();
      bus.on('detections', () => notifier.frameProcessed(), name);
      bus.on('status', (s) => s.component === 'agent' && s.state === 'stopping' && notifier.stopping(), name);
    },
    stop: () => notifier.close(),
  };
}
