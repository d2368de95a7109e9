// The Raspberry Pi camera module: libcamera drives it, so FFmpeg cannot open it as a
// V4L2 device. rpicam-vid (libcamera-vid before Bookworm) writes its frames into a named
// pipe that FFmpeg reads: nothing passes through JavaScript, so a busy main thread never
// holds the camera back. The frames travel in a Matroska stream (rpicam-vid's libav
// output) whose timestamps are the camera's own, so a stall anywhere downstream bunches
// no frames in time and bends no speed. The two run as one supervised process here: when
// either exits the other is stopped and the pair restarts with the capture's backoff;
// both are started so that the kernel kills them if the agent dies (no camera left busy
// for the next start). The camera's stderr is logged, redacted, rate-limited.
//
// A camera that stops delivering is restarted by rpicam-vid itself ("Device timeout
// detected, attempting a restart!!!", then frames again, rpicam_vid.cpp's event loop);
// edgecam's stall watchdog restarts the pair only if frames stay away longer.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { guarded, stopChild, type FfmpegExit, type FfmpegProcess } from '../ffmpeg/process.js';
import { ownTempDir } from '../pids.js';
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

/**
 * The libav encoder per RPICAM_CODEC: raw frames, JPEGs, or H.264 by the Pi 4's hardware
 * encoder (/dev/video11), else by x264 (the Pi 5 has no H.264 encoder).
 */
export function libavCodec(codec: CameraOptions['codec']): string {
  if (codec === 'yuv420') return 'rawvideo';
  if (codec === 'mjpeg') return 'mjpeg';
  return existsSync('/dev/video11') ? 'h264_v4l2m2m' : 'libx264';
}

/** rpicam-vid's arguments: no preview, run until stopped, frames into `output` as Matroska with the camera's timestamps. */
export function cameraArgs(o: CameraOptions, output: string): string[] {
  const args = ['--nopreview', '-t', '0', '-o', output, '--flush', '--camera', String(o.camera)];
  args.push('--width', String(o.width), '--height', String(o.height), '--framerate', String(o.framerate));
  args.push('--codec', 'libav', '--libav-format', 'matroska', '--libav-video-codec', libavCodec(o.codec));
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

/** FFmpeg's input options for what the camera writes: Matroska, timed by the camera. */
export function cameraInputOptions(): string[] {
  return ['-f', 'matroska'];
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

/** The command lines the capture runs, as check-config shows them; FIFO is the named pipe between them. */
export function cameraCommandLine(o: CameraOptions, ffmpeg: string[]): string {
  return [cameraTool(o.path), ...cameraArgs(o, 'FIFO'), '&', ...ffmpeg].join(' ');
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
 * Starts the camera and FFmpeg (`startFfmpeg`, given the named pipe to read); returns the
 * pair as one process: it exits when either does (the other is stopped), and kill stops both.
 */
export function withCamera(o: CameraOptions, log: Logger, startFfmpeg: (input: string) => FfmpegProcess): FfmpegProcess & { cameraPid: number | undefined } {
  const dir = ownTempDir('edgecam-camera-');
  const fifo = join(dir, 'frames.mkv');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  const camera = spawn(guarded(cameraTool(o.path)), cameraArgs(o, fifo), { stdio: ['ignore', 'ignore', 'pipe'] });
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
  const ffmpeg = startFfmpeg(fifo);
  const stopCamera = (graceMs?: number) => stopChild(camera, cameraExited, graceMs);
  // Whichever ends first says why; a camera that failed speaks for the pair.
  const exited = Promise.race([cameraExited.then((e) => ({ who: 'camera' as const, e })), ffmpeg.exited.then((e) => ({ who: 'ffmpeg' as const, e }))]).then(async ({ who, e }) => {
    if (who === 'camera') {
      const f = await ffmpeg.kill();
      return e.code === 0 ? f : { ...e, tail: cameraReason(e.tail) };
    }
    // The camera ending its stream ends FFmpeg's input first: its own exit, moments later, says why.
    const camera = await Promise.race([cameraExited, new Promise<undefined>((r) => void setTimeout(r, 1000))]);
    if (camera && camera.code !== 0 && camera.signal === null) return { ...camera, tail: cameraReason(camera.tail) };
    await stopCamera();
    return e;
  });
  void exited.finally(() => rmSync(dir, { recursive: true, force: true }));
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
