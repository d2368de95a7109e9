// Evidence photos as a feature: for each crossing, and each zone left with a speed, that
// analytics gave an evidence path (EVIDENCE_CLASSES, EVIDENCE_MIN_SPEED), the picture at
// the camera's resolution where its object is best seen (the largest, most confident box
// within a second of the moment) is saved with its box and caption under STATE_DIR/evidence/
// and served on /evidence/<file> (behind HTTP_TOKEN). It is listed before analytics in
// FEATURES: it sees each frame's detections before the crossings they cause.
//
// The crossing's message goes out at once with the photo's path (telemetry never waits
// for a JPEG); the photo follows within a second. Photos are made one at a time, at most
// MAX_QUEUED waiting: a burst beyond that drops the newest, counted. Each outcome is an
// `evidence` event: a photo that was not made (dropped, no picture of the moment, a
// failed write) has its path taken out of the history row, so no page links to nothing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Crossing, FrameResult, Stamped, TrackedDetection } from '../bus.js';
import type { Feature, FeatureContext } from '../feature.js';
import { pictureSize, type PictureRing } from '../frames/pictures.js';
import { EvidenceFiles } from './files.js';
import { renderEvidence } from '../frames/photo.js';

/** Seconds either side of the crossing in which its best view is looked for. */
const NEAR = 1;
const FILE = /^[A-Za-z0-9_-]+\.jpg$/;
/** Photos waiting to be made, at most: each takes tens of milliseconds, a burst beyond this is dropped. */
export const MAX_QUEUED = 16;

/** What a photo is of: a crossing or a zone left, with the evidence path analytics gave it. */
interface Subject extends Pick<Crossing, 'trackId' | 'pts' | 'className' | 'speed'>, Stamped {
  evidence: string;
  /** The caption's words for where it happened. */
  where: string[];
  /** The retained topic that also gets the photo. */
  topic?: string;
}

interface Seen {
  pts: number;
  sourceWidth: number;
  sourceHeight: number;
  detections: TrackedDetection[];
}

/** The frame (kept, with a picture) where the track's box is largest and most confident, nearest the crossing first. */
export function bestView(seen: Seen[], pictures: Pick<PictureRing, 'at'>, trackId: number, pts: number): { frame: Seen; detection: TrackedDetection } | undefined {
  let best: { frame: Seen; detection: TrackedDetection; value: number; near: boolean } | undefined;
  for (const frame of seen) {
    const d = frame.detections.find((x) => x.trackId === trackId);
    if (!d || !pictures.at(frame.pts)) continue;
    const near = Math.abs(frame.pts - pts) <= NEAR;
    const value = (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) * d.score;
    if (!best || (near && !best.near) || (near === best.near && value > best.value)) best = { frame, detection: d, value, near };
  }
  return best;
}

export function fromConfig(ctx: FeatureContext): Feature | undefined {
  const { config, bus, http, frames, health, mqtt } = ctx;
  // Built without lines or zones too: a Save in the viewer or a set/lines command may add them.
  if (!config.EVIDENCE_CLASSES.length) return undefined;
  const name = 'evidence';
  const log = ctx.log.child({ feature: name });
  const seconds = config.SPEED_WINDOW + config.TRACK_LOST_SECONDS + 1;
  const size = pictureSize(config.EVIDENCE_SIZE);
  const pictures = frames.wantPictures(seconds, size);
  const files = new EvidenceFiles(join(config.STATE_DIR, 'evidence'), config.EVIDENCE_MAX_MB * 1024 * 1024, config.HISTORY_DAYS);
  const seen: Seen[] = [];
  // Topics are checked before anything starts.
  for (const l of ctx.pipeline.shapes.shapes.lines) mqtt.topic(`line/${l.name}/evidence`);
  const localTime = new Intl.DateTimeFormat('sv-SE', { dateStyle: 'short', timeStyle: 'medium' });
  let pending = Promise.resolve();
  health.provide(name, () => ({ ...files.stats, queued, bytes: files.totalBytes, pictures: pictures.stats.pictures, pictureBytes: pictures.stats.bytes }));

  const onResult = (r: FrameResult) => {
    seen.push({ pts: r.pts, sourceWidth: r.sourceWidth, sourceHeight: r.sourceHeight, detections: r.detections.filter((d) => d.trackId !== undefined) });
    while (seen.length && (r.pts - seen[0]!.pts > seconds || r.pts < seen[0]!.pts)) seen.shift();
  };

  /** Chooses the view now (the frames move on), renders and saves it later, one at a time. */
  let queued = 0;
  const outcome = (path: string, written: boolean) => bus.emit('evidence', { path, written });
  const make = (e: Subject) => {
    const file = e.evidence.slice('/evidence/'.length);
    const view = bestView(seen, pictures, e.trackId, e.pts);
    if (!view || queued >= MAX_QUEUED) {
      files.stats.dropped++;
      outcome(e.evidence, false);
      return void log.warn(
        { file, track: e.trackId, queued },
        view ? 'evidence: too many photos waiting; this one dropped' : 'evidence: no picture of the moment kept; none saved',
      );
    }
    const speed = e.speed ? `${e.speed.value.toFixed(1)} ± ${e.speed.errorEstimate.toFixed(1)} ${e.speed.unit}` : 'no speed';
    const people = view.frame.detections.filter((d) => d.className === 'person' && (d !== view.detection || config.EVIDENCE_BLUR === 'all'));
    const scene = {
      picture: pictures.at(view.frame.pts)!,
      sourceWidth: view.frame.sourceWidth,
      sourceHeight: view.frame.sourceHeight,
      subject: view.detection.box,
      blur: config.EVIDENCE_BLUR === 'none' ? [] : people.map((d) => d.box),
      caption: [`${e.className} #${e.trackId}`, speed, ...e.where, localTime.format(new Date(e.timestamp))].join(' · '),
      fit: size === 'source' ? undefined : size,
    };
    // One at a time, in order: a burst queues (up to MAX_QUEUED), the pipeline never waits.
    queued++;
    pending = pending
      .then(async () => {
        const jpeg = await renderEvidence(scene);
        files.write(file, jpeg);
        outcome(e.evidence, true);
        // Best effort, retained: Home Assistant's camera of the line shows the newest.
        if (e.topic) mqtt.publish(mqtt.topic(e.topic), jpeg, { qos: 1, retain: true, contentType: 'image/jpeg' });
      })
      .catch((err: Error) => {
        files.stats.failed++;
        outcome(e.evidence, false);
        log.warn({ err: err.message, file }, 'evidence photo not saved');
      })
      .finally(() => queued--);
  };

  return {
    name,
    start: () => {
      files.open();
      http.route('/evidence/', (_req, res, url) => {
        const file = url.pathname.slice('/evidence/'.length);
        const path = join(files.dir, file);
        // Only names as the agent gives them (no %-escapes, no dots but the extension's): nothing outside the folder.
        if (!FILE.test(file) || !existsSync(path)) return http.send(res, 404, 'text/plain; charset=utf-8', 'no such evidence photo');
        http.send(res, 200, 'image/jpeg', readFileSync(path), { 'Cache-Control': 'private, max-age=86400' });
      });
      bus.on('detections', onResult, name);
      bus.on('crossing', (c) => c.evidence && make({ ...c, evidence: c.evidence, where: [c.direction, `line ${c.line}`], topic: `line/${c.line}/evidence` }), name);
      bus.on('zone', (z) => z.evidence && make({ ...z, evidence: z.evidence, where: [`zone ${z.zone}`, `${z.dwell?.toFixed(1) ?? '?'} s inside`] }), name);
      log.info({ classes: config.EVIDENCE_CLASSES, dir: files.dir, blur: config.EVIDENCE_BLUR }, 'evidence photos on');
    },
    stop: async () => {
      await pending;
    },
  };
}
