// The pipeline: one loop from the camera to the bus. Capture → motion gate → detect →
// track, then `detections` and `speed` events for the features. It owns the stages and
// their run-time settings; nothing else calls them.
//
// Inference is pipelined: frame N+1 is copied into the worker's queue while frame N
// runs, so the model never waits for the main thread. A frame is taken only once the
// worker can queue it, so it is the newest one capture has. Results are handled in order
// as they come, without waiting for the next frame (a static scene may send none).
import type { Config } from './config/index.js';
import type { EventBus } from './bus.js';
import type { Feature, PipelineControl } from './feature.js';
import type { FrameStore } from './frames/store.js';
import type { Health } from './health/clock.js';
import type { Logger } from './log.js';
import { Capture, captureOptions } from './capture/index.js';
import { checkKnownClasses, Detector } from './detect/index.js';
import { detectorOptions } from './detect/overrides.js';
import { MotionGate } from './detect/motion.js';
import { TrackStage, trackOptions } from './track/index.js';
import { DetectionFilter } from './track/filters.js';
import { outsideFrame } from './geometry.js';
import { ShapeStore } from './shapes/index.js';

export interface PipelineOptions {
  config: Config;
  bus: EventBus;
  frames: FrameStore;
  health: Health;
  log: Logger;
}

export class Pipeline implements PipelineControl {
  private readonly detector: Detector;
  private readonly tracker: TrackStage;
  private readonly filter: DetectionFilter;
  private readonly gate: MotionGate | undefined;
  readonly shapes: ShapeStore;
  private capture: Capture | undefined;
  private paused = false;
  private loop: Promise<void> | undefined;
  /** Settles when the loop ends: the source ended (resolves) or a stage failed (rejects). */
  readonly done: Promise<void>;
  private finish!: { resolve: () => void; reject: (err: unknown) => void };

  constructor(private readonly options: PipelineOptions) {
    const { config, log } = options;
    // Weak detections reach the tracker (its second pass); only confident ones are reported.
    this.detector = new Detector(detectorOptions(config, log.child({ stage: 'detect' }), Math.min(config.SCORE_THRESHOLD, config.TRACK_LOW_SCORE)));
    this.tracker = new TrackStage(trackOptions(config, log.child({ stage: 'track' })));
    this.filter = new DetectionFilter(config.ANALYTICS);
    this.shapes = new ShapeStore(config, options.bus, log.child({ stage: 'shapes' }), (shapes) => {
      this.filter.setMasks(shapes.masks);
      this.tracker.setCalibration(shapes.calibration);
    });
    options.health.provide('filter', () => (this.filter.active ? this.filter.stats : undefined));
    this.gate = config.MOTION_GATING ? new MotionGate({ threshold: config.MOTION_THRESHOLD, maxSkipSeconds: config.MOTION_MAX_SKIP }) : undefined;
    this.done = new Promise((resolve, reject) => (this.finish = { resolve, reject }));
    // Nobody may be waiting yet: a failure during start-up is reported by start() instead.
    this.done.catch(() => {});
    options.health.provide('motion', () => this.gate?.stats);
  }

  /** Loading the model: first, so a model that cannot run stops the agent before it connects anywhere. */
  readonly model: Feature = {
    name: 'detect',
    start: async () => {
      await this.detector.start();
      this.checkClasses();
      this.shapes.know({ labels: this.detector.spec.labels });
    },
    stop: () => this.detector.stop(),
  };

  /** Capture and the loop: last, once every feature listens. Stopping it ends every track, so their final speeds go out. */
  readonly run: Feature = {
    name: 'capture',
    start: () => this.startCapture(),
    stop: () => this.stopCapture(),
  };

  private frameChecked = false;

  /** Lines, zones and masks with a point outside the frame: a warning each (a coordinate from another resolution, most often). */
  private checkShapes(width: number, height: number): void {
    this.frameChecked = true;
    this.shapes.know({ frame: { width, height } });
    const { lines, zones, masks } = this.shapes.shapes;
    const shapes: [string, string, readonly (readonly [number, number])[]][] = [
      ...lines.map((l) => ['LINES', l.name, [l.a, l.b]] as [string, string, [number, number][]]),
      ...zones.map((z) => ['ZONES', z.name, z.points] as [string, string, [number, number][]]),
      ...masks.map((m) => ['MASKS', m.name, m.points] as [string, string, [number, number][]]),
    ];
    for (const [setting, name, points] of shapes)
      for (const i of outsideFrame(points, width, height))
        this.options.log.warn(
          `${setting}: ${name}: point ${i + 1} (${points[i]!.join(',')}) is outside the ${width}x${height} frame; coordinates are in the camera's full-resolution source pixels`,
        );
  }

  /** Class names in SCORE_THRESHOLDS and MASKS must be the model's. */
  private checkClasses(): void {
    const { labels } = this.detector.spec;
    const { scoreThresholds } = this.options.config.ANALYTICS;
    const { masks } = this.shapes.shapes;
    checkKnownClasses('SCORE_THRESHOLDS', Object.keys(scoreThresholds), labels);
    checkKnownClasses(
      'MASKS',
      masks.flatMap((m) => m.classes),
      labels,
    );
  }

  setScoreThreshold(threshold: number): void {
    this.detector.setScoreThreshold(Math.min(threshold, this.options.config.TRACK_LOW_SCORE));
    this.tracker.setScoreThreshold(threshold);
  }

  setClasses(classes: string[]): void {
    this.detector.setClasses(classes);
    this.tracker.setClasses(classes);
  }

  setFps(fps: number): void {
    if (!this.capture) throw new Error('the agent is still starting');
    this.capture.setFps(fps);
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.options.bus.emit('status', { component: 'detection', state: paused ? 'paused' : 'running' });
  }

  private async startCapture(): Promise<void> {
    const { config, bus, health, log } = this.options;
    this.tracker.start();
    const capture = new Capture({
      ...captureOptions(config, this.detector.spec.input, (state, detail) => bus.emit('status', { component: 'camera', state, detail }), log.child({ stage: 'capture' })),
      pictures: this.options.frames.pictures,
    });
    this.capture = capture;
    health.provide('capture', () => capture.stats);
    await capture.start();
    this.loop = this.runLoop(capture);
    this.loop.then(this.finish.resolve, this.finish.reject);
  }

  private async stopCapture(): Promise<void> {
    // Stopping capture ends the loop after the in-flight inference.
    await this.capture?.stop();
    await this.loop?.catch(() => {});
    for (const report of this.tracker.flush()) this.options.bus.emit('speed', report);
  }

  private async runLoop(capture: Capture): Promise<void> {
    const { bus, frames, health } = this.options;
    const { detector, tracker, gate } = this;
    let results: Promise<void> = Promise.resolve();
    let failure: Error | undefined;
    for (;;) {
      await detector.ready();
      const frame = await capture.next();
      if (!frame) break;
      if (failure) throw failure;
      if (this.paused) continue;
      if (gate && !gate.check(frame).run) continue;
      bus.emit('frame', frame);
      if (frames.wanted) frames.put(frame);
      const { index, pts, sourceWidth, sourceHeight } = frame;
      const detection = detector.detect(frame);
      const inferenceDone = health.inferenceStarted();
      results = results
        .then(() => detection)
        .then(({ detections: all, inferenceMs }) => {
          inferenceDone();
          if (this.paused) return; // paused while this frame was in inference
          if (!this.frameChecked) this.checkShapes(sourceWidth, sourceHeight);
          const { detections, speeds, replay } = tracker.update({ pts, sourceWidth, sourceHeight, detections: this.filter.apply(all) });
          health.frameProcessed(inferenceMs);
          bus.emit('detections', { index, pts, sourceWidth, sourceHeight, detections, inferenceMs, ...(replay.length ? { replay } : {}) });
          for (const report of speeds) bus.emit('speed', report);
        })
        .catch((err: unknown) => {
          inferenceDone();
          failure ??= err instanceof Error ? err : new Error(String(err));
        });
    }
    await results;
    if (failure) throw failure;
  }
}
