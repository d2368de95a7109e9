// Detections of a clip, frame by frame, as the agent's pipeline makes them (the same
// capture at DETECT_FPS, the same detector with its appearance descriptors), kept in a
// cache file so that tracker variants can be replayed on them in seconds.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig } from '../agent/config/index.js';
import { Capture, captureOptions } from '../agent/capture/index.js';
import { Detector } from '../agent/detect/index.js';
import { detectorOptions } from '../agent/detect/overrides.js';
import type { Logger } from '../agent/log.js';
import type { TrackerDetection } from '../agent/track/tracker.js';

export interface ClipFrame {
  pts: number;
  detections: TrackerDetection[];
}

export interface ClipDetections {
  sourceWidth: number;
  sourceHeight: number;
  frames: ClipFrame[];
}

/** Every processed frame's detections down to `lowScore`, with descriptors; cached by clip, model and settings. */
export async function clipDetections(clip: string, env: Record<string, string>, log: Logger): Promise<ClipDetections> {
  const config = loadConfig({ env: { SOURCE: clip, SOURCE_REALTIME: 'false', MOTION_GATING: 'false', ...env }, cwd: tmpdir() });
  const key = createHash('sha256')
    .update(JSON.stringify([clip, statSync(clip).size, statSync(config.MODEL).size, statSync(config.MODEL).mtimeMs, env]))
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), 'edgecam-identity-cache');
  const cache = join(dir, `${key}.json`);
  if (existsSync(cache)) return revive(JSON.parse(readFileSync(cache, 'utf8')) as ClipDetections);

  const detector = new Detector({ ...detectorOptions(config, log, config.TRACK_LOW_SCORE), appearance: true });
  await detector.start();
  const capture = new Capture(captureOptions(config, detector.spec.input, () => {}, log));
  const out: ClipDetections = { sourceWidth: 0, sourceHeight: 0, frames: [] };
  try {
    await capture.start();
    for (;;) {
      const frame = await capture.next();
      if (!frame) break;
      out.sourceWidth = frame.sourceWidth;
      out.sourceHeight = frame.sourceHeight;
      const { detections } = await detector.detect(frame);
      out.frames.push({ pts: frame.pts, detections });
    }
  } finally {
    await capture.stop();
    await detector.stop();
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    cache,
    JSON.stringify(out, (k, v: unknown) => (v instanceof Float32Array ? Array.from(v, (x) => Math.round(x * 1e4) / 1e4) : v)),
  );
  return out;
}

function revive(c: ClipDetections): ClipDetections {
  for (const f of c.frames) for (const d of f.detections) if (d.appearance) d.appearance = Float32Array.from(d.appearance as unknown as number[]);
  return c;
}
