// Wires the stages from Config and runs the pipeline until the source ends or a
// signal arrives. Shutdown is idempotent: stages stop in reverse order, each in
// its own try/catch, MQTT is flushed, and the exit code is aggregated.
import type { Config } from './config/index.js';
import type { Logger } from './log.js';
import { Capture } from './capture/index.js';
import { Detector, PIPELINE_DEPTH } from './detect/index.js';
import { FrameStore } from './frames.js';
import { Publisher } from './publish/index.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './publish/broker.js';
import { EventBus } from './events.js';
import { SystemdNotifier } from './systemd/notify.js';
import { discoveryMessages } from './publish/homeassistant.js';
import { runCommand, type CommandApplier } from './publish/commands.js';
import { Snapshots } from './publish/snapshots.js';
import { MotionGate } from './detect/motion.js';
import { readFileSync } from 'node:fs';
import { packageVersion } from './paths.js';
import { inputOverrides } from './detect/overrides.js';
import { TrackStage } from './track/index.js';
import { Viewer } from './viewer/index.js';
import { Restream } from './restream/index.js';
import { AnnotatedRestream } from './restream/annotated.js';
import { EX_CONFIG, UserError } from './errors.js';
import { redactUrl } from './log.js';

export interface Agent {
  /** Resolves with the exit code once the pipeline has stopped. */
  readonly done: Promise<number>;
  stop(reason: string): Promise<number>;
  readonly bus: EventBus;
}

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

export interface AgentHooks {
  /** Each telemetry message acknowledged by the broker. */
  onDelivered?: (topic: string, payload: string) => void;
}

export async function startAgent(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env, hooks: AgentHooks = {}): Promise<Agent> {
  const bus = new EventBus(log);
  let lastFrameAt = 0;
  const notifier = new SystemdNotifier({ env, log: log.child({ stage: 'systemd' }), lastFrameAt: () => lastFrameAt });
  notifier.start();
  bus.on('detections', () => {
    lastFrameAt = Date.now();
    notifier.frameProcessed();
  });
  const started: Stoppable[] = [];
  let exitCode = 0;
  let stopping: Promise<number> | undefined;
  let capture: Capture | undefined;
  let publisherStats: (() => unknown) | undefined;
  let restreamStats: (() => { restarts: number }) | undefined;
  let motionStats: (() => unknown) | undefined;

  const stop = (reason: string): Promise<number> => {
    stopping ??= (async () => {
      log.info({ reason }, 'stopping');
      notifier.stopping();
      for (const stage of started.reverse()) {
        try {
          const started = performance.now();
          await stage.stop();
          log.debug({ stage: stage.name, ms: Math.round(performance.now() - started) }, 'stage stopped');
        } catch (err) {
          exitCode ||= 1;
          log.error({ err, stage: stage.name }, 'stage failed to stop');
        }
      }
      notifier.close();
      log.info({ exitCode, ...capture?.stats, motion: motionStats?.(), mqtt: publisherStats?.() }, 'stopped');
      return exitCode;
    })();
    return stopping;
  };

  // Remote commands act on stages created below; until then they are refused.
  const notReady = () => {
    throw new Error('the agent is still starting');
  };
  const commands: CommandApplier = { score_threshold: notReady, detect_fps: notReady, classes: notReady, paused: notReady };
  let paused = false;

  try {
    let mqttUrl = config.MQTT_URL;
    if (!mqttUrl) {
      const broker: EmbeddedBroker = await startEmbeddedBroker({ port: config.MQTT_EMBEDDED_PORT, host: config.MQTT_EMBEDDED_BIND, log: log.child({ stage: 'broker' }) });
      started.push({ name: 'broker', stop: () => broker.close() });
      mqttUrl = `mqtt://${broker.host === '0.0.0.0' ? '127.0.0.1' : broker.host}:${broker.port}`;
    }

    const detector = new Detector({
      modelPath: config.MODEL,
      threads: config.DETECT_THREADS,
      // Weak detections reach the tracker (its second pass); only confident ones are reported.
      scoreThreshold: Math.min(config.SCORE_THRESHOLD, config.TRACK_LOW_SCORE),
      nmsIou: config.NMS_IOU,
      nmsClassAgnostic: config.NMS_CLASS_AGNOSTIC,
      classes: config.CLASSES,
      overrides: inputOverrides(config),
      log: log.child({ stage: 'detect' }),
    });
    await detector.start();
    started.push({ name: 'detect', stop: () => detector.stop() });

    const publisher = new Publisher({
      url: mqttUrl,
      clientId: config.MQTT_CLIENT_ID,
      username: config.MQTT_USERNAME,
      password: config.MQTT_PASSWORD,
      qos: config.MQTT_QOS,
      topicPrefix: config.TOPIC_PREFIX,
      stateDir: config.STATE_DIR,
      queueMaxMessages: config.MQTT_QUEUE_MAX_MESSAGES,
      queueMaxBytes: config.MQTT_QUEUE_MAX_BYTES,
      reconnectMaxMs: config.RESTART_BACKOFF_MAX * 1000,
      protocolVersion: config.MQTT_PROTOCOL_VERSION,
      messageExpirySeconds: config.MQTT_MESSAGE_EXPIRY,
      tls: {
        ca: config.MQTT_CA_FILE ? readFileSync(config.MQTT_CA_FILE) : undefined,
        cert: config.MQTT_CERT_FILE ? readFileSync(config.MQTT_CERT_FILE) : undefined,
        key: config.MQTT_KEY_FILE ? readFileSync(config.MQTT_KEY_FILE) : undefined,
      },
      discovery: config.HA_DISCOVERY
        ? {
            prefix: config.HA_DISCOVERY_PREFIX,
            messages: discoveryMessages({
              discoveryPrefix: config.HA_DISCOVERY_PREFIX,
              deviceId: config.DEVICE_ID,
              topics: { state: `${config.TOPIC_PREFIX}state`, status: `${config.TOPIC_PREFIX}status`, speedometer: `${config.TOPIC_PREFIX}speedometer` },
              classes: config.HA_CLASSES,
              speedUnit: config.SPEED_UNIT,
              version: packageVersion(),
            }),
          }
        : undefined,
      onCommand: (setting, payload) => runCommand(setting, payload, commands),
      onDelivered: hooks.onDelivered,
      log: log.child({ stage: 'publish' }),
    });
    await publisher.start();
    publisherStats = () => publisher.stats;
    started.push({ name: 'publish', stop: () => publisher.stop() });
    bus.on('detections', (result) => publisher.publishFrame(result));
    bus.on('speed', (report) => publisher.publishSpeed(report));
    bus.on('status', (s) => s.component === 'camera' && publisher.updateState({ camera: s.state as 'starting' | 'streaming' | 'reconnecting' | 'ended' }));

    // Pixels of recent frames, for the stages that draw them; none copied when none does.
    const annotate = Boolean(config.RESTREAM_URL && config.RESTREAM_ANNOTATE);
    const frames = new FrameStore(PIPELINE_DEPTH + 1);
    const drawn = config.VIEWER_ENABLED || config.SNAPSHOT_CLASSES.length > 0 || annotate;

    if (config.SNAPSHOT_CLASSES.length) {
      const snapshots = new Snapshots({ classes: config.SNAPSHOT_CLASSES, maxBytes: config.SNAPSHOT_MAX_BYTES, publish: (cls, jpeg) => publisher.publishSnapshot(cls, jpeg), frames, log: log.child({ stage: 'snapshots' }) });
      bus.on('detections', (result) => snapshots.onResult(result));
    }

    const tracker = new TrackStage({
      calibration: { imagePoints: config.CALIBRATION_IMAGE_POINTS, worldPoints: config.CALIBRATION_WORLD_POINTS, metersPerPixel: config.METERS_PER_PIXEL },
      scoreThreshold: config.SCORE_THRESHOLD,
      lowScore: config.TRACK_LOW_SCORE,
      lostSeconds: config.TRACK_LOST_SECONDS,
      speedClasses: config.SPEED_CLASSES,
      unit: config.SPEED_UNIT,
      window: config.SPEED_WINDOW,
      minAge: config.SPEED_MIN_AGE,
      minSamples: config.SPEED_MIN_SAMPLES,
      publishInterval: config.SPEED_PUBLISH_INTERVAL,
      log: log.child({ stage: 'track' }),
    });
    await tracker.start();
    // Stopping the tracker ends every track: their final speeds go out before MQTT is flushed.
    started.push({ name: 'track', stop: async () => tracker.flush().forEach((r) => bus.emit('speed', r)) });

    const { input } = detector.spec;
    capture = new Capture({
      source: { url: config.SOURCE, kind: config.SOURCE_KIND, loop: config.SOURCE_LOOP, realtime: config.SOURCE_REALTIME },
      width: input.width,
      height: input.height,
      resize: input.resize,
      fps: config.DETECT_FPS,
      ffmpegPath: config.FFMPEG_PATH,
      lossless: config.SOURCE_KIND === 'file' && !config.SOURCE_REALTIME,
      stallTimeout: config.STALL_TIMEOUT,
      hwaccel: config.HWACCEL,
      restartMaxMs: config.RESTART_BACKOFF_MAX * 1000,
      onState: (state, detail) => bus.emit('status', { component: 'camera', state, detail }),
      log: log.child({ stage: 'capture' }),
    });
    await capture.start();
    const cap = capture;

    if (config.RESTREAM_URL && annotate) {
      const url = config.RESTREAM_URL;
      let annotated: AnnotatedRestream | undefined;
      restreamStats = () => annotated?.stats ?? { restarts: 0 };
      started.push({ name: 'restream', stop: async () => annotated?.stop() });
      // Started on the first frame, when the source size is known.
      bus.on('frame', (frame) => {
        if (!annotated) {
          const size = /^(\d+)x(\d+)$/.exec(config.RESTREAM_SIZE);
          const width = size ? Number(size[1]) : Math.min(1280, frame.sourceWidth) & ~1;
          const height = size ? Number(size[2]) : Math.round((width * frame.sourceHeight) / frame.sourceWidth) & ~1;
          annotated = new AnnotatedRestream({ url, width, height, fps: config.DETECT_FPS, bitrate: config.RESTREAM_BITRATE, ffmpegPath: config.FFMPEG_PATH, restartMaxMs: config.RESTART_BACKOFF_MAX * 1000, frames, log: log.child({ stage: 'restream' }) });
          void annotated.start();
        }
      });
      bus.on('detections', (result) => annotated?.onResult(result));
    } else if (config.RESTREAM_URL) {
      const restream = new Restream({ source: { url: config.SOURCE, kind: config.SOURCE_KIND, loop: config.SOURCE_LOOP, realtime: true }, url: config.RESTREAM_URL, ffmpegPath: config.FFMPEG_PATH, restartMaxMs: config.RESTART_BACKOFF_MAX * 1000, log: log.child({ stage: 'restream' }) });
      await restream.start();
      restreamStats = () => restream.stats;
      started.push({ name: 'restream', stop: () => restream.stop() });
    }

    if (config.VIEWER_ENABLED) {
      const viewer = new Viewer({
        port: config.VIEWER_PORT,
        host: config.VIEWER_BIND,
        token: config.VIEWER_TOKEN,
        staleAfter: Math.max(5, 3 / config.DETECT_FPS),
        mqttConnected: () => publisher.connected,
        sources: { capture: () => cap.stats, mqtt: () => publisher.stats, restream: () => restreamStats?.() },
        frames,
        log: log.child({ stage: 'viewer' }),
      });
      await viewer.start();
      started.push({ name: 'viewer', stop: () => viewer.stop() });
      bus.on('detections', (result) => viewer.onResult(result));
      bus.on('speed', (report) => viewer.onSpeed(report));
      bus.on('status', (status) => viewer.onStatus(status));
    }

    commands.score_threshold = (v) => {
      detector.setScoreThreshold(Math.min(v, config.TRACK_LOW_SCORE));
      tracker.setScoreThreshold(v);
    };
    commands.classes = (v) => detector.setClasses(v);
    commands.detect_fps = (v) => cap.setFps(v);
    commands.paused = (v) => {
      paused = v;
      publisher.updateState({ paused: v });
    };

    const gate = config.MOTION_GATING ? new MotionGate({ threshold: config.MOTION_THRESHOLD, maxSkipSeconds: config.MOTION_MAX_SKIP }) : undefined;
    motionStats = () => gate?.stats;
    // Inference is pipelined: frame N+1 is copied into the worker's queue while frame N
    // runs, so the model never waits for the main thread. A frame is taken only once the
    // worker can queue it, so it is the newest one capture has. Results are handled in
    // order as they come, without waiting for the next frame (a static scene may send none).
    const loop = (async () => {
      let results: Promise<void> = Promise.resolve();
      let failure: unknown;
      for (;;) {
        await detector.ready();
        const frame = await cap.next();
        if (!frame) break;
        if (failure) throw failure;
        if (paused) continue;
        if (gate && !gate.check(frame).run) continue;
        bus.emit('frame', frame);
        if (drawn) frames.put(frame);
        const { index, pts, sourceWidth, sourceHeight } = frame;
        const detection = detector.detect(frame);
        results = results
          .then(() => detection)
          .then(({ detections: all, inferenceMs }) => {
            if (paused) return; // paused while this frame was in inference
            const { detections, speeds } = tracker.update({ pts, sourceWidth, sourceHeight, detections: all });
            publisher.noteFrame(inferenceMs);
            bus.emit('detections', { index, pts, sourceWidth, sourceHeight, detections, inferenceMs });
            for (const report of speeds) bus.emit('speed', report);
          })
          .catch((err: unknown) => void (failure ??= err));
      }
      await results;
      if (failure) throw failure;
    })();
    // Stopping capture ends the loop after the in-flight inference; later stages stop after that.
    started.push({ name: 'capture', stop: async () => (await cap.stop(), await loop.catch(() => {})) });
    const done = loop.then(
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
  } catch (err) {
    await stop('start-up failed');
    throw err;
  }
}
