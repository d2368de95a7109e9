// The benchmarks' camera clip (the bundled sample scaled to 1280x720 and re-encoded as
// H.264, as a camera's main stream would be), agents run on it in processes of their own,
// and the counters read from their /metrics.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { findFfmpeg } from '../agent/ffmpeg/process.js';
import { BUNDLED_SAMPLE, PACKAGE_ROOT } from '../agent/paths.js';
import { freePort } from './net.js';

export function make720pClip(dir: string): string {
  const out = join(dir, 'camera-720p.mp4');
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-i', BUNDLED_SAMPLE, '-vf', 'scale=1280:720'];
  const r = spawnSync(findFfmpeg(), [...args, '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', out]);
  if (r.status !== 0) throw new Error(`FFmpeg could not make the 720p clip: ${r.stderr.toString()}`);
  return out;
}

/** A still 720p H.264 camera: the sample's first frame held for 12 s at 15 fps (an idle scene). */
export function makeStill720pClip(dir: string): string {
  const out = join(dir, 'still-720p.mp4');
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-i', BUNDLED_SAMPLE, '-vf', 'trim=end_frame=1,loop=loop=179:size=1:start=0,setpts=N/15/TB,scale=1280:720', '-r', '15'];
  const r = spawnSync(findFfmpeg(), [...args, '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', out]);
  if (r.status !== 0) throw new Error(`FFmpeg could not make the still clip: ${r.stderr.toString()}`);
  return out;
}

/** The counters the benchmarks read from an agent's /metrics. */
export interface Scrape {
  framesIn: number;
  dropped: number;
  inferences: number;
  detections: number;
  latencyCount: number;
  /** Frames acknowledged within 400 ms. */
  within400: number;
}

/** The agent's /metrics page. */
export async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

export async function scrapeMetrics(port: number): Promise<Scrape> {
  const text = await metricsText(port);
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    framesIn: value(/^edgecam_frames_in_total (\d+)/m),
    dropped: value(/^edgecam_frames_dropped_total (\d+)/m),
    inferences: value(/^edgecam_inference_ms_count (\d+)/m),
    detections: [...text.matchAll(/^edgecam_detections_total(?:\{[^}]*\})? (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0),
    latencyCount: value(/^edgecam_frame_latency_ms_count (\d+)/m),
    within400: value(/^edgecam_frame_latency_ms_bucket\{le="400"\} (\d+)/m),
  };
}

/** Waits until the agent on `port` answers /metrics (model loaded, HTTP up). */
export async function waitForMetrics(port: number, timeoutMs = 30_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (
      await scrapeMetrics(port).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the agent on port ${port} did not answer /metrics within ${timeoutMs / 1000} s`);
}

export interface ClipAgent {
  child: ChildProcess;
  /** Its /metrics port on 127.0.0.1. */
  port: number;
}

/**
 * `edgecam run` in a process of its own, as the systemd template runs it, on a looping
 * `clip` with motion gating off (every frame inferred: a busy scene), /metrics on a free
 * loopback port, no viewer; `env` adds the rest (MQTT_URL, DETECT_FPS, ...) or overrides;
 * `prefix` runs it through another command (chrt, as the unit's scheduling policy).
 */
export async function spawnClipAgent(clip: string, stateDir: string, env: Record<string, string>, prefix: string[] = []): Promise<ClipAgent> {
  const port = await freePort();
  const command = [...prefix, process.execPath, join(PACKAGE_ROOT, 'dist', 'agent', 'cli.js'), 'run'];
  const child = spawn(command[0]!, command.slice(1), {
    env: {
      PATH: process.env.PATH,
      SOURCE: clip,
      SOURCE_LOOP: 'true',
      MOTION_GATING: 'false',
      HTTP_PORT: String(port),
      HTTP_BIND: '127.0.0.1',
      VIEWER_ENABLED: 'false',
      STATE_DIR: stateDir,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { child, port };
}

/** Stops the agents (SIGTERM) and waits for every one to exit. */
export async function stopAgents(agents: ClipAgent[]): Promise<void> {
  for (const a of agents) a.child.kill('SIGTERM');
  await Promise.all(agents.map((a) => new Promise((r) => (a.child.exitCode !== null ? r(null) : a.child.once('exit', r)))));
}
