// Prometheus metrics on /metrics. Counters that parts already keep are read at scrape
// time from the health registry; the inference histogram and detections by class are
// fed by the bus.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FrameStoreStats } from '../frames/store.js';
import type { CaptureStats } from '../capture/index.js';
import type { TransportStats } from '../mqtt/transport.js';
import type { Feature, FeatureContext } from '../feature.js';

export interface MetricSources {
  capture: () => CaptureStats | undefined;
  mqtt: () => TransportStats | undefined;
  restream: () => { restarts: number } | undefined;
  viewer: () => { snapshotEncodes: number } | undefined;
  history: () => { written: number; queued: number; dropped: number; pruned: number; busy: number; staleLocks: number; damaged: number } | undefined;
  evidence: () => { partial: number; dropped: number } | undefined;
}

export class Metrics {
  readonly registry = new Registry();
  readonly inference: Histogram;
  readonly detections: Counter<'class'>;
  readonly latency: Histogram;

  constructor(sources: MetricSources, frames: () => FrameStoreStats) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'edgecam_process_' });
    const fromSource = (name: string, help: string, read: () => number | undefined) =>
      name.endsWith('_total')
        ? new Counter({
            name,
            help,
            registers: [r],
            collect() {
              this.reset();
              this.inc(read() ?? 0);
            },
          })
        : new Gauge({
            name,
            help,
            registers: [r],
            collect() {
              this.set(read() ?? 0);
            },
          });
    // Monotonic totals kept by the stages, exposed as counters in name, read at scrape time.
    fromSource('edgecam_frames_in_total', 'Frames delivered by FFmpeg to the pipeline.', () => sources.capture()?.framesIn);
    fromSource('edgecam_frames_dropped_total', 'Frames dropped because the detector was busy (newest wins).', () => sources.capture()?.framesDropped);
    fromSource(
      'edgecam_ffmpeg_restarts_total',
      'Capture FFmpeg restarts (exit, stall, implausible frame rate); with SOURCE=rpicam, of the camera and FFmpeg together.',
      () => sources.capture()?.restarts,
    );
    fromSource('edgecam_restream_restarts_total', 'Restream FFmpeg restarts.', () => sources.restream()?.restarts);
    fromSource('edgecam_mqtt_messages_queued_total', 'Telemetry messages put in the outbox.', () => sources.mqtt()?.queued);
    fromSource('edgecam_mqtt_messages_sent_total', 'Telemetry messages acknowledged by the broker.', () => sources.mqtt()?.sent);
    fromSource('edgecam_mqtt_messages_dropped_total', 'Telemetry messages dropped because the outbox was full.', () => sources.mqtt()?.dropped);
    fromSource('edgecam_mqtt_reconnects_total', 'Lost broker connections.', () => sources.mqtt()?.reconnects);
    fromSource('edgecam_frame_copies_total', 'Frames copied for the viewer, snapshots and annotated restream.', () => frames().copies);
    fromSource('edgecam_frame_copies_skipped_total', 'Frames not copied for them because every buffer was being encoded.', () => frames().skipped);
    fromSource('edgecam_frame_buffers', 'Frame buffers allocated for them.', () => frames().buffers);
    fromSource('edgecam_snapshot_encodes_total', 'JPEG encodes for /snapshot.jpg (one per frame and kind, however many clients ask).', () => sources.viewer()?.snapshotEncodes);
    fromSource('edgecam_history_rows_written_total', 'Rows written to the history database.', () => sources.history()?.written);
    fromSource('edgecam_history_rows_dropped_total', 'History rows dropped because the database could not be written for too long.', () => sources.history()?.dropped);
    fromSource('edgecam_history_rows_pruned_total', 'History rows removed by retention (HISTORY_DAYS, HISTORY_MAX_MB).', () => sources.history()?.pruned);
    fromSource('edgecam_history_rows_waiting', 'History rows waiting in memory to be written.', () => sources.history()?.queued);
    fromSource('edgecam_history_busy_total', 'History flushes that found the database locked by another program (written at a later flush).', () => sources.history()?.busy);
    fromSource('edgecam_history_stale_locks_cleared_total', 'History locks left by a killed program, cleared.', () => sources.history()?.staleLocks);
    fromSource('edgecam_history_damaged_total', 'Damaged history databases set aside (a new one started).', () => sources.history()?.damaged);
    fromSource(
      'edgecam_evidence_dropped_total',
      'Evidence photos not made: the render queue was full (a burst), or no picture of the moment was kept.',
      () => sources.evidence()?.dropped,
    );
    fromSource(
      'edgecam_evidence_partial_removed_total',
      'Half-written evidence photos removed: left by a crash (at start) or by a write that failed.',
      () => sources.evidence()?.partial,
    );
    fromSource('edgecam_mqtt_outbox_messages', 'Telemetry messages waiting for the broker now.', () => sources.mqtt()?.pending);
    this.inference = new Histogram({
      name: 'edgecam_inference_ms',
      help: 'Model inference time per frame, milliseconds.',
      buckets: [5, 10, 20, 30, 50, 75, 100, 150, 250, 500, 1000],
      registers: [r],
    });
    this.detections = new Counter({ name: 'edgecam_detections_total', help: 'Reported detections by class.', labelNames: ['class'], registers: [r] });
    this.latency = new Histogram({
      name: 'edgecam_frame_latency_ms',
      help: "From a frame leaving capture to the broker's acknowledgement of its class message, milliseconds.",
      buckets: [10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 600, 1000, 2000, 5000],
      registers: [r],
    });
  }
}

export function fromConfig({ config, bus, http, health, frames }: FeatureContext): Feature | undefined {
  if (!config.HTTP_ENABLED) return undefined;
  const name = 'metrics';
  const metrics = new Metrics(
    {
      capture: () => health.counter('capture'),
      mqtt: () => health.counter('mqtt'),
      restream: () => health.counter('restream'),
      viewer: () => health.counter('viewer'),
      history: () => health.counter('history'),
      evidence: () => health.counter('evidence'),
    },
    () => frames.stats,
  );
  return {
    name,
    start: () => {
      http.route('/metrics', async (_req, res) => http.send(res, 200, metrics.registry.contentType, await metrics.registry.metrics()));
      // Capture times of the frames whose class message is not yet acknowledged (bounded: a
      // frame with nothing to report sends none, and the broker may be away).
      const capturedAt = new Map<number, number>();
      const classTopic = `${config.TOPIC_PREFIX}class`;
      bus.on(
        'frame',
        (frame) => {
          capturedAt.set(frame.index, performance.now());
          if (capturedAt.size > 256) capturedAt.delete(capturedAt.keys().next().value!);
        },
        name,
      );
      bus.on(
        'delivered',
        ({ topic, payload }) => {
          if (topic !== classTopic) return;
          const frame = (JSON.parse(payload) as { frame?: number }).frame;
          const at = frame === undefined ? undefined : capturedAt.get(frame);
          if (at === undefined) return;
          metrics.latency.observe(performance.now() - at);
          for (const index of capturedAt.keys()) if (index <= frame!) capturedAt.delete(index);
        },
        name,
      );
      bus.on(
        'detections',
        (result) => {
          metrics.inference.observe(result.inferenceMs);
          for (const d of result.detections) metrics.detections.inc({ class: d.className });
        },
        name,
      );
    },
    stop: () => {},
  };
}
