// The agent's one clock of health: when the last frame was processed, the processed
// frame rate, the latest inference time, the camera's state and whether detection is
// paused. The pipeline feeds it; the systemd watchdog, the retained state, the viewer,
// /healthz and Prometheus all read the same numbers. Counters that parts keep (capture,
// MQTT, restream, motion gate) are registered here by name and read on demand.
import type { EventBus } from '../bus.js';

/** Weight of the newest frame interval in the processed-fps average. */
const FPS_SMOOTHING = 0.1;

export interface HealthReport {
  ok: boolean;
  reasons: string[];
  lastFrameAgoS: number | null;
  mqttConnected: boolean;
  camera: string;
  paused: boolean;
  fps: number;
}

export class Health {
  /** ms timestamp of the last processed frame; 0 before the first. */
  lastFrameAt = 0;
  /** Processed frames per second, averaged over recent frames. */
  fps = 0;
  inferenceMs = 0;
  camera = 'starting';
  paused = false;
  /** Start times of the inferences in flight, oldest first. */
  private readonly inFlight: number[] = [];
  private readonly counters = new Map<string, () => object | undefined>();

  constructor(
    private readonly options: {
      /** Seconds without a processed frame before the agent is reported unhealthy. */
      staleAfter: number;
      mqttConnected: () => boolean;
      now?: () => number;
    },
  ) {}

  /** Called by the pipeline for every processed frame. */
  frameProcessed(inferenceMs: number): void {
    const now = this.now();
    if (this.lastFrameAt) {
      const instant = 1000 / Math.max(1, now - this.lastFrameAt);
      this.fps = this.fps ? this.fps * (1 - FPS_SMOOTHING) + instant * FPS_SMOOTHING : instant;
    }
    this.lastFrameAt = now;
    this.inferenceMs = inferenceMs;
  }

  /** Called when a frame goes to the detector; the returned function when its result is back (or failed). */
  inferenceStarted(): () => void {
    const started = this.now();
    this.inFlight.push(started);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight.splice(this.inFlight.indexOf(started), 1);
    };
  }

  /** ms the oldest inference in flight has been waiting for its result; 0 when none is. */
  inferenceWaitMs(): number {
    return this.inFlight.length ? this.now() - this.inFlight[0]! : 0;
  }

  /** Registers a part's counters under `name`. */
  provide(name: string, read: () => object | undefined): void {
    this.counters.set(name, read);
  }

  counter<T extends object>(name: string): T | undefined {
    return this.counters.get(name)?.() as T | undefined;
  }

  /** Every registered part's counters, for the final log line. */
  snapshot(): Record<string, unknown> {
    return Object.fromEntries([...this.counters].map(([name, read]) => [name, read()]));
  }

  report(): HealthReport {
    const reasons: string[] = [];
    const ago = this.lastFrameAt ? (this.now() - this.lastFrameAt) / 1000 : null;
    if (this.paused) {
      // A paused agent processes no frame on purpose.
    } else if (ago === null) reasons.push('no frame processed yet');
    else if (ago > this.options.staleAfter) reasons.push(`no frame for ${ago.toFixed(1)} s (camera: ${this.camera})`);
    const mqttConnected = this.options.mqttConnected();
    if (!mqttConnected) reasons.push('MQTT broker not connected');
    return {
      ok: reasons.length === 0,
      reasons,
      lastFrameAgoS: ago === null ? null : Math.round(ago * 10) / 10,
      mqttConnected,
      camera: this.camera,
      paused: this.paused,
      fps: Math.round(this.fps * 10) / 10,
    };
  }

  /** Keeps the camera and paused states from the bus. */
  follow(bus: EventBus): void {
    bus.on('status', (s) => {
      if (s.component === 'camera') this.camera = s.state;
      else if (s.component === 'detection') this.paused = s.state === 'paused';
    });
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
