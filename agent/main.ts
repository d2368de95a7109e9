// The agent: the pipeline and the list of features on its bus. Parts start in the order
// listed and stop in reverse, each in its own try/catch; the exit code is aggregated.
import type { Config } from './config/index.js';
import { redactUrl, type Logger } from './log.js';
import { EventBus } from './bus.js';
import { Controller, type FeatureContext, type FeatureFactory } from './feature.js';
import { Pipeline } from './pipeline.js';
import { PIPELINE_DEPTH } from './detect/index.js';
import { FrameStore } from './frames/store.js';
import { Health } from './health/index.js';
import { HttpServer, httpOptions } from './http/server.js';
import { embeddedBroker } from './mqtt/broker.js';
import { MqttTransport, transportOptions } from './mqtt/transport.js';
import { EX_CONFIG, UserError } from './errors.js';
import * as telemetry from './telemetry/index.js';
import * as trackEvents from './track-events/index.js';
import * as history from './history/index.js';
import * as evidence from './evidence/index.js';
import * as analytics from './analytics/index.js';
import * as state from './state/index.js';
import * as homeassistant from './homeassistant/index.js';
import * as commands from './commands/index.js';
import * as snapshots from './snapshots/index.js';
import * as restream from './restream/index.js';
import * as healthz from './health/index.js';
import * as metrics from './metrics/index.js';
import * as viewer from './viewer/index.js';
import * as systemd from './systemd/index.js';

/** Every feature, in start order. A new capability is a folder and a line here. */
export const FEATURES: FeatureFactory[] = [
  telemetry.fromConfig,
  trackEvents.fromConfig,
  history.fromConfig,
  evidence.fromConfig,
  analytics.fromConfig,
  state.fromConfig,
  homeassistant.fromConfig,
  commands.fromConfig,
  snapshots.fromConfig,
  restream.fromConfig,
  healthz.fromConfig,
  metrics.fromConfig,
  viewer.fromConfig,
  systemd.fromConfig,
];

export interface Agent {
  /** Resolves with the exit code once the agent has stopped. */
  readonly done: Promise<number>;
  stop(reason: string): Promise<number>;
  readonly bus: EventBus;
}

export interface AgentHooks {
  /** Each telemetry message acknowledged by the broker. */
  onDelivered?: (topic: string, payload: string) => void;
}

export async function startAgent(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env, hooks: AgentHooks = {}): Promise<Agent> {
  const bus = new EventBus(log);
  const broker = config.MQTT_URL ? undefined : embeddedBroker(config, log.child({ stage: 'broker' }));
  const mqtt = new MqttTransport({
    ...transportOptions(config, log.child({ stage: 'mqtt' }), broker),
    onDelivered: (topic, payload) => {
      hooks.onDelivered?.(topic, payload);
      bus.emit('delivered', { topic, payload });
    },
  });
  const health = new Health({ staleAfter: Math.max(5, 3 / config.DETECT_FPS), mqttConnected: () => mqtt.connected });
  health.follow(bus);
  health.provide('mqtt', () => mqtt.stats);
  const frames = new FrameStore(PIPELINE_DEPTH + 1);
  const http = new HttpServer(httpOptions(config, log));
  const pipeline = new Pipeline({ config, bus, frames, health, log });
  const ctx: FeatureContext = { config, log, bus, mqtt, health, frames, http, pipeline, env };
  const controller = new Controller(log, bus);
  let exitCode = 0;
  let stopping: Promise<number> | undefined;
  const stop = (reason: string): Promise<number> => {
    stopping ??= (async () => {
      log.info({ reason }, 'stopping');
      bus.emit('status', { component: 'agent', state: 'stopping' });
      if (!(await controller.stop())) exitCode ||= 1;
      log.info({ exitCode, ...health.counter('capture'), motion: health.counter('motion'), mqtt: health.counter('mqtt') }, 'stopped');
      return exitCode;
    })();
    return stopping;
  };

  try {
    // Built before anything starts: a feature's topic or setting mistake stops the agent before it connects.
    const features = FEATURES.map((build) => build(ctx));
    await controller.start([config.HTTP_ENABLED ? http.binding : undefined, broker, pipeline.model, mqtt, ...features, config.HTTP_ENABLED ? http : undefined, pipeline.run]);
    bus.emit('status', { component: 'agent', state: 'running' });
  } catch (err) {
    // The CLI exits with this code after printing the error: the last log line says the same.
    exitCode = err instanceof UserError ? EX_CONFIG : 1;
    await stop('start-up failed');
    throw err;
  }

  const done = pipeline.done.then(
    () => stop('source ended'),
    (err: unknown) => {
      if (err instanceof UserError) {
        exitCode = EX_CONFIG;
        log.error({ problem: err.message }, 'configuration error');
        console.error(`edgecam: ${redactUrl(err.message)}`);
      } else {
        exitCode = 1;
        log.error({ err }, 'pipeline failed');
      }
      return stop('pipeline failed');
    },
  );
  // A stop() from outside ends capture, which ends the loop; `done` settles after both.
  return { done: done.then(() => exitCode), stop: async (reason) => (await stop(reason), await done), bus };
}
