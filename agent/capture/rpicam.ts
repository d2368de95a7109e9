// The Raspberry Pi camera module: libcamera drives it, so FFmpeg cannot open it as a
// V4L2 device. rpicam-vid (libcamera-vid before Bookworm) writes its frames to a pipe,
// and FFmpeg reads them from its standard input. The two run as one supervised process
// here: when either exits the other is stopped and the pair restarts with the capture's
// backoff; both are started so that the kernel kills them if the agent dies (no camera
// left busy for the next start). The camera's stderr is logged, redacted, rate-limited.
import { execFileSync, spawn } from 'node:child_process';
import type { Config } from '../config/index.js';
import type { Readable } from 'node:stream';
import { guarded, stopChild, type FfmpegExit, type FfmpegProcess } from '../ffmpeg/process.js';
import { UserError } from '../errors.js';
import { redactUrl, type Logger } from '../log.js';

export interface CameraOptions {
  /** The camera's index (SOURCE=rpicam:N). */
  camera: number;
  width: number;
  height: number;
  framerate: number;
  codec: 'yuv420' | 'mjpeg' | 'h264';
  rotation: 0 | 180;
  hflip: boolean;
  vflip: boolean;
  exposure: 'normal' | 'sport' | 'long';
  /** Microseconds; 0: automatic. */
  shutter: number;
  /** 0: automatic. */
  gain: number;
  /** The tool; empty: rpicam-vid, else libcamera-vid, on PATH. */
  path?: string;
}

export function cameraOptions(config: Config): CameraOptions {
  const [width, height] = config.RPICAM_SIZE.split('x').map(Number) as [number, number];
  return {
    camera: Number(/^rpicam:(\d)$/.exec(config.SOURCE)?.[1] ?? 0),
    width,
    height,
    framerate: config.RPICAM_FRAMERATE,
    codec: config.RPICAM_CODEC,
    rotation: Number(config.RPICAM_ROTATION) as 0 | 180,
    hflip: config.RPICAM_HFLIP,
    vflip: config.RPICAM_VFLIP,
    exposure: config.RPICAM_EXPOSURE,
    shutter: config.RPICAM_SHUTTER,
    gain: config.RPICAM_GAIN,
    path: config.RPICAM_PATH,
  };
}

/** rpicam-vid's arguments: no preview, run until stopped, frames to stdout. */
export function cameraArgs(o: CameraOptions): string[] {
  const args = ['--nopreview', '-t', '0', '-o', '-', '--flush', '--camera', String(o.camera)];
  args.push('--width', String(o.width), '--height', String(o.height), '--framerate', String(o.framerate), '--codec', o.codec);
  // H.264 with its headers in the stream, so FFmpeg can join at any key frame.
  if (o.codec === 'h264') args.push('--inline', '--intra', String(Math.max(1, Math.round(o.framerate))));
  if (o.rotation) args.push('--rotation', String(o.rotation));
  if (o.hflip) args.push('--hflip');
  if (o.vflip) args.push('--vflip');
  if (o.exposure !== 'normal') args.push('--exposure', o.exposure);
  if (o.shutter) args.push('--shutter', String(o.shutter));
  if (o.gain) args.push('--gain', String(o.gain));
  return args;
}

/** FFmpeg's input options for what the camera writes; timestamps from the wall clock, as the frames arrive. */
export function cameraInputOptions(o: CameraOptions): string[] {
  const clock = ['-use_wallclock_as_timestamps', '1'];
  if (o.codec === 'yuv420') return [...clock, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${o.width}x${o.height}`, '-framerate', String(o.framerate)];
  return [...clock, '-f', o.codec, '-framerate', String(o.framerate)];
}

let found: string | undefined;

/** RPICAM_PATH, else rpicam-vid, else libcamera-vid on PATH; a missing tool is the user's to install. */
export function cameraTool(configured?: string): string {
  if (configured) return configured;
  if (found) return found;
  for (const name of ['rpicam-vid', 'libcamera-vid'])
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore', timeout: 5000 });
      return (found = name);
    } catch {
      // not this one
    }
  throw new UserError('SOURCE=rpicam: neither rpicam-vid nor libcamera-vid is installed; apt-get install rpicam-apps (Raspberry Pi OS), or set RPICAM_PATH');
}

/** The command line the capture runs, as check-config shows it. */
export function cameraCommandLine(o: CameraOptions, ffmpeg: string[]): string {
  return [cameraTool(o.path), ...cameraArgs(o), '|', ...ffmpeg].join(' ');
}

/** Why the camera stopped, from its last lines: its own error line, with what to do about the usual ones. */
export function cameraReason(tail: string[]): string[] {
  const error = tail
    .filter((l) => /^ERROR: \*\*\*/.test(l))
    .at(-1)
    ?.replace(/^ERROR: \*\*\* (.*?) \*\*\*$/, '$1');
  if (!error) return tail.slice(-3).map((l) => `camera: ${l}`);
  if (/failed to acquire camera/.test(error)) return [`camera: ${error}: another program holds the camera (find it with: sudo fuser -v /dev/media* /dev/video*)`];
  if (/no cameras available/.test(error)) return [`camera: ${error}: check the ribbon cable and rpicam-hello --list-cameras`];
  return [`camera: ${error}`];
}

/** Camera stderr lines logged per minute at most; the rest are counted. */
const LINES_PER_MINUTE = 20;

/**
 * Starts the camera and, reading its stdout, FFmpeg (`startFfmpeg`); returns the pair as
 * one process: it exits when either does (the other is stopped), and kill stops both.
 */
export function withCamera(o: CameraOptions, log: Logger, startFfmpeg: (stdin: Readable) => FfmpegProcess): FfmpegProcess & { cameraPid: number | undefined } {
  const camera = spawn(guarded(cameraTool(o.path)), cameraArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  let logged = 0;
  let windowStart = Date.now();
  let rest = '';
  camera.stderr.setEncoding('utf8');
  camera.stderr.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const raw of lines) {
      const line = redactUrl(raw.trim());
      if (!line) continue;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (Date.now() - windowStart > 60_000) {
        if (logged > LINES_PER_MINUTE) log.warn({ suppressed: logged - LINES_PER_MINUTE }, 'camera: lines not logged in the last minute');
        windowStart = Date.now();
        logged = 0;
      }
      // The error that ends the camera is in the capture's one warning per restart (its reason).
      if (++logged <= LINES_PER_MINUTE) log.debug({ camera: line }, 'camera');
    }
  });
  const cameraExited = new Promise<FfmpegExit>((resolve) => {
    camera.once('error', (err) => resolve({ code: null, signal: 'error', tail: [...tail, err.message] }));
    camera.once('exit', (code, signal) => resolve({ code, signal, tail }));
  });
  camera.stdout.on('error', () => {});
  const ffmpeg = startFfmpeg(camera.stdout);
  const stopCamera = (graceMs?: number) => stopChild(camera, cameraExited, graceMs);
  // Whichever ends first says why; a camera that failed speaks for the pair.
  const exited = Promise.race([cameraExited.then((e) => ({ who: 'camera' as const, e })), ffmpeg.exited.then((e) => ({ who: 'ffmpeg' as const, e }))]).then(async ({ who, e }) => {
    if (who === 'camera') {
      const f = await ffmpeg.kill();
      return e.code === 0 ? f : { ...e, tail: cameraReason(e.tail) };
    }
    await stopCamera();
    return e;
  });
  return {
    stdout: ffmpeg.stdout,
    get pid() {
      return ffmpeg.pid;
    },
    get cameraPid() {
      return camera.pid;
    },
    onStderrLine: (listener) => ffmpeg.onStderrLine(listener),
    exited,
    async kill(graceMs) {
      await Promise.all([stopCamera(graceMs), ffmpeg.kill(graceMs)]);
      return exited;
    },
  };
}
