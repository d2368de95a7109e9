// The feature contract. Everything that consumes the pipeline's results (telemetry,
// state, Home Assistant, commands, snapshots, viewer, restream, metrics, systemd) is a
// feature: built from the config by a `fromConfig` in its own folder, started in list
// order, stopped in reverse. A feature listens on the bus and publishes through the
// narrow services in its context; it never reaches into another feature.
import type { Config } from './config/index.js';
import type { EventBus } from './bus.js';
import type { Logger } from './log.js';
import type { MqttTransport } from './mqtt/transport.js';
import type { Health } from './health/clock.js';
import type { FrameStore } from './frames/store.js';
import type { HttpServer } from './http/server.js';
import type { ShapeStore } from './shapes/index.js';

/** The settings remote commands change while the pipeline runs. */
export interface PipelineControl {
  setScoreThreshold(threshold: number): void;
  setClasses(classes: string[]): void;
  setFps(fps: number): void;
  setPaused(paused: boolean): void;
  /** Lines, zones, masks and calibration in force, changed live by a Save or a set/<shape> command. */
  readonly shapes: ShapeStore;
}

export interface Feature {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/** What a feature is built from: the config and the agent's shared services. */
export interface FeatureContext {
  config: Config;
  /** The feature's own child logger is made from this one. */
  log: Logger;
  bus: EventBus;
  mqtt: MqttTransport;
  health: Health;
  /** Pixels of recent frames, for the features that draw them. */
  frames: FrameStore;
  http: HttpServer;
  /** The run-time settings of the pipeline (remote commands change them). */
  pipeline: PipelineControl;
  env: NodeJS.ProcessEnv;
}

/** Builds a feature from the config, or returns undefined when the config leaves it off. */
export type FeatureFactory = (ctx: FeatureContext) => Feature | undefined;

/**
 * Starts parts in order and stops the started ones in reverse. A part that fails to
 * start stops the ones already started, then the failure is rethrown; a part that
 * fails to stop is logged and the others still stop.
 */
export class Controller {
  private readonly started: Feature[] = [];
  private stopping: Promise<boolean> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly bus?: EventBus,
  ) {}

  get names(): string[] {
    return this.started.map((f) => f.name);
  }

  async start(parts: (Feature | undefined)[]): Promise<void> {
    for (const part of parts) {
      if (!part) continue;
      if (this.stopping) throw new Error(`not starting ${part.name}: the agent is stopping`);
      try {
        await part.start();
      } catch (err) {
        this.log.debug({ feature: part.name }, 'failed to start');
        // Whatever it registered before failing goes with it.
        this.bus?.removeOwner(part.name);
        await this.stop();
        throw err;
      }
      this.started.push(part);
    }
  }

  /** Stops every started part in reverse order; resolves false when one failed to stop. */
  stop(): Promise<boolean> {
    this.stopping ??= (async () => {
      let ok = true;
      for (const part of this.started.splice(0).reverse()) {
        const began = performance.now();
        try {
          await part.stop();
          this.log.debug({ feature: part.name, ms: Math.round(performance.now() - began) }, 'stopped');
        } catch (err) {
          ok = false;
          this.log.error({ err, feature: part.name }, 'failed to stop');
        } finally {
          this.bus?.removeOwner(part.name);
        }
      }
      return ok;
    })();
    return this.stopping;
  }
}
