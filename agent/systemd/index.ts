// systemd integration as a feature: READY=1 once every part has started, STATUS= with
// the camera's state, the watchdog fed while the event loop and the detector are
// healthy, STOPPING=1 when the agent begins to stop. Does nothing outside systemd (no
// NOTIFY_SOCKET).
import type { Feature, FeatureContext } from '../feature.js';
import { SystemdNotifier } from './notify.js';

export function fromConfig({ bus, health, env, log }: FeatureContext): Feature {
  const name = 'systemd';
  const notifier = new SystemdNotifier({
    env,
    log: log.child({ feature: name }),
    stuck: (limitMs) => {
      const waited = health.inferenceWaitMs();
      return waited > limitMs ? `an inference has been running for ${(waited / 1000).toFixed(1)} s` : undefined;
    },
  });
  return {
    name,
    start: () => {
      notifier.start();
      bus.on(
        'status',
        (s) => {
          if (s.component === 'camera') notifier.setStatus(`camera ${s.state}${s.detail ? `: ${s.detail}` : ''}`);
          else if (s.component === 'agent' && s.state === 'running') notifier.ready();
          else if (s.component === 'agent' && s.state === 'stopping') notifier.stopping();
        },
        name,
      );
    },
    stop: () => notifier.close(),
  };
}
