// `npm run bench [-- --json PATH --seconds N --rounds R]`: what the pipeline costs beyond the model,
// on the bundled model and sample clip, with a real mosquitto on loopback.
//   model_fps      bare onnxruntime throughput, the agent's session options, pre-made input
//   decode_fps     FFmpeg alone decoding and scaling the clip to the model's input (/dev/null)
//   pipeline_fps   the whole agent, capture → detect → track → publish, unpaced: the steady
//                  rate over 540 results, after 100 more that warm it up (JIT compilation)
//   overhead_ratio pipeline_fps / min(model_fps, decode_fps), the median of R rounds (default 3),
//                  each pipeline run between two model runs
//   decode_bound   the bare model again beside an FFmpeg only decoding at the model's rate,
//                  ÷ the model alone: what decoding costs the model on the same cores
// then, paced at the clip's native rate for N seconds (default 30) at DETECT_FPS 5 and 15:
// latency from a frame leaving capture to the broker's acknowledgement of its `class`
// message (p50/p99), the inference time of the same frames, and CPU of the process tree;
// the peak RSS of the agent in its own process (npm start's defaults, DETECT_FPS=15); and
// a static and a busy clip with MOTION_GATING on and off.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import '../agent/detect/no-telemetry.js';
import ort from 'onnxruntime-node';
import { loadConfig } from '../agent/config/index.js';
import { startAgent } from '../agent/main.js';
import { createLogger } from '../agent/log.js';
import { sessionOptions } from '../agent/detect/index.js';
import { findFfmpeg } from '../agent/ffmpeg/process.js';
import { captureFilters, scaleFilter } from '../agent/capture/filters.js';
import { BUNDLED_MODEL, BUNDLED_SAMPLE, PACKAGE_ROOT } from '../agent/paths.js';

const { values } = parseArgs({ options: { json: { type: 'string' }, seconds: { type: 'string', default: '30' }, rounds: { type: 'string', default: '3' } } });
const pacedSeconds = Number(values.seconds);
const rounds = Math.max(1, Number(values.rounds));
const log = createLogger({ level: 'error', pretty: false });
const dir = mkdtempSync(join(tmpdir(), 'edgecam-bench-'));
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

const port = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});
writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
const mosquitto = ['/usr/sbin/mosquitto', 'mosquitto'].find((b) => !b.startsWith('/') || existsSync(b))!;
const broker = spawn(mosquitto, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));
const MQTT_URL = `mqtt://127.0.0.1:${port}`;

// --- model_fps: measured before and after each unpaced pipeline run and averaged, as the
// speed of a shared or thermally throttled machine drifts.
const session = await ort.InferenceSession.create(BUNDLED_MODEL, sessionOptions(0));
const input = new ort.Tensor('uint8', new Uint8Array(512 * 512 * 3).fill(100), [1, 512, 512, 3]);
for (let i = 0; i < 5; i++) await session.run({ 'tower_0/images': input });
const inferMs: number[] = [];
async function modelFps(runs = 150, times = inferMs): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run({ 'tower_0/images': input });
    times.push(performance.now() - t);
  }
  return runs / ((performance.now() - t0) / 1000);
}
const modelFpsBefore = await modelFps();

// --- decode_fps: the capture's own FFmpeg arguments (every source frame, as DETECT_FPS=15 takes them), into /dev/null
const ffmpeg = findFfmpeg();
const decodeStart = performance.now();
const decodeOut = spawnSync(
  ffmpeg,
  [
    '-hide_banner',
    '-nostats',
    '-stream_loop',
    '2',
    '-i',
    BUNDLED_SAMPLE,
    '-an',
    '-vf',
    captureFilters(15, 'stretch', 512, 512),
    '-vsync',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-y',
    '/dev/null',
  ],
  { encoding: 'utf8' },
);
const decodeFrames = Number(/frame=\s*(\d+)/.exec(decodeOut.stderr)?.[1] ?? 0);
const decodeFps = decodeFrames / ((performance.now() - decodeStart) / 1000);

// --- process-tree CPU and RSS from /proc
const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function treeCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      if (Number(pid) === broker.pid) continue; // the broker is not the agent
      if (Number(pid) === process.pid || ppid === process.pid)
        total += (Number(fields[11]) + Number(fields[12]) + (Number(pid) === process.pid ? 0 : Number(fields[13]) + Number(fields[14]))) / ticks;
    } catch {
      // exited
    }
  }
  return total;
}
const peakRssMb = (pid: number | 'self') => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/**
 * Peak RSS of the agent alone: `edgecam run` in its own process with npm start's defaults
 * (viewer on, frames copied for it) on the sample clip at DETECT_FPS=15, for `seconds`.
 */
async function agentPeakRss(seconds: number): Promise<number> {
  const agent = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'agent', 'cli.js'), 'run'], {
    env: { PATH: process.env.PATH, MQTT_URL, SOURCE_LOOP: 'true', DETECT_FPS: '15', HTTP_PORT: '0', STATE_DIR: join(dir, 'state-rss'), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const peak = peakRssMb(agent.pid!);
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  return peak;
}

interface RunResult {
  frames: number;
  seconds: number;
  /** Frames per second from result `warmup` to the last: the pipeline's steady rate. */
  steadyFps: number;
  cpuPercent: number;
  latencies: number[];
  /** Inference time of each frame whose latency was measured, same order. */
  inferenceMs: number[];
  /** Per frame: latency minus that frame's own inference time. */
  added: number[];
  inferences: number;
  /** Inference time of every processed frame. */
  allInference: number[];
}

async function runAgent(env: Record<string, string>, maxFrames = Infinity, warmup = 0): Promise<RunResult> {
  const frameAt = new Map<number, number>();
  const latencies: number[] = [];
  const inferenceMs: number[] = [];
  const added: number[] = [];
  const inferenceOf = new Map<number, number>();
  const allInference: number[] = [];
  let frames = 0;
  let inferences = 0;
  const config = loadConfig({ env: { MQTT_URL, HTTP_ENABLED: 'false', STATE_DIR: join(dir, `state-${Math.random()}`), SCORE_THRESHOLD: '0.3', ...env }, cwd: dir });
  const agent = await startAgent(
    config,
    log,
    {},
    {
      onDelivered: (topic, payload) => {
        if (!topic.endsWith('class')) return;
        const frame = (JSON.parse(payload) as { frame: number }).frame;
        const at = frameAt.get(frame);
        const inference = inferenceOf.get(frame);
        if (at !== undefined && inference !== undefined) {
          const latency = performance.now() - at;
          latencies.push(latency);
          inferenceMs.push(inference);
          added.push(latency - inference);
        }
        inferenceOf.delete(frame);
        frameAt.delete(frame);
      },
    },
  );
  agent.bus.on('frame', (f) => {
    frameAt.set(f.index, performance.now());
    if (frameAt.size > 1000) frameAt.clear();
  });
  let first = 0;
  let last = 0;
  agent.bus.on('detections', (r) => {
    inferenceOf.set(r.index, r.inferenceMs);
    allInference.push(r.inferenceMs);
    if (inferenceOf.size > 1000) inferenceOf.clear();
    last = performance.now();
    frames++;
    if (frames === warmup + 1) first = last;
    inferences++;
    if (frames === maxFrames) void agent.stop('bench');
  });
  const cpu0 = treeCpuSeconds();
  const start = performance.now();
  const stopAfter = maxFrames < Infinity ? undefined : setTimeout(() => void agent.stop('bench'), pacedSeconds * 1000);
  await agent.done;
  clearTimeout(stopAfter);
  const seconds = (performance.now() - start) / 1000;
  return {
    frames,
    seconds,
    steadyFps: (frames - warmup - 1) / ((last - first) / 1000),
    cpuPercent: ((treeCpuSeconds() - cpu0) / seconds) * 100,
    latencies,
    inferenceMs,
    added,
    inferences,
    allInference,
  };
}

// --- pipeline_fps: unpaced, every frame (DETECT_FPS = the clip's 15 fps), motion gating off,
// the clip looped; the steady rate over 540 results after 100 that warm the agent up, as
// model_fps leaves out the session's creation and warm-up runs.
// Repeated `rounds` times, each pipeline run between two model runs; the round with the
// median ratio is reported, as one run on a shared machine can be off by a few percent.
const roundResults: { unpaced: RunResult; before: number; after: number; ratio: number }[] = [];
let modelFpsAfter = modelFpsBefore;
for (let i = 0; i < rounds; i++) {
  const before = modelFpsAfter;
  const unpaced = await runAgent({ SOURCE: BUNDLED_SAMPLE, SOURCE_LOOP: 'true', SOURCE_REALTIME: 'false', DETECT_FPS: '15', MOTION_GATING: 'false' }, 640, 100);
  modelFpsAfter = await modelFps();
  roundResults.push({ unpaced, before, after: modelFpsAfter, ratio: unpaced.steadyFps / Math.min((before + modelFpsAfter) / 2, decodeFps) });
}
const median = [...roundResults].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds / 2)]!;
const { unpaced } = median;
const pipelineFps = unpaced.steadyFps;

// --- the bound that decoding alone puts on the pipeline: the bare model again, beside an
// FFmpeg that decodes and scales the clip (nothing else) at the model's own rate.
const beside = spawn(
  ffmpeg,
  [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'error',
    '-readrate',
    String(modelFpsAfter / 15),
    '-stream_loop',
    '-1',
    '-i',
    BUNDLED_SAMPLE,
    '-an',
    '-vf',
    scaleFilter('stretch', 512, 512),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-y',
    '/dev/null',
  ],
  { stdio: 'ignore' },
);
await new Promise((r) => setTimeout(r, 500));
const modelFpsBesideDecode = beside.exitCode === null ? await modelFps(150, []) : NaN; // -readrate needs FFmpeg 5
beside.kill();
await session.release();
const modelFpsMean = (median.before + median.after) / 2;

// --- paced at native rate
const paced: Record<string, RunResult> = {};
for (const fps of [5, 15]) paced[`detect_fps_${fps}`] = await runAgent({ SOURCE: BUNDLED_SAMPLE, SOURCE_LOOP: 'true', DETECT_FPS: String(fps), MOTION_GATING: 'false' });

const agentRssMb = await agentPeakRss(pacedSeconds + 3);

// --- static and busy scenes, gating on and off
const staticClip = join(dir, 'static.mp4');
execFileSync(ffmpeg, [
  '-hide_banner',
  '-loglevel',
  'error',
  '-y',
  '-loop',
  '1',
  '-framerate',
  '15',
  '-i',
  join(PACKAGE_ROOT, 'test', 'fixtures', 'dog.jpg'),
  '-t',
  '12',
  '-vf',
  'scale=960:540,setsar=1,format=yuv420p',
  '-c:v',
  'libx264',
  '-preset',
  'veryfast',
  '-crf',
  '23',
  staticClip,
]);
const scenes: Record<string, RunResult> = {};
for (const [scene, clip] of [
  ['static', staticClip],
  ['busy', BUNDLED_SAMPLE],
] as const) {
  for (const gating of ['true', 'false'])
    scenes[`${scene}_gating_${gating === 'true' ? 'on' : 'off'}`] = await runAgent({ SOURCE: clip, SOURCE_LOOP: 'true', DETECT_FPS: '5', MOTION_GATING: gating });
}
broker.kill();

const result = {
  machine: `${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores, node ${process.version}, onnxruntime-node ${ort.env.versions.common}`,
  model_fps: round(modelFpsMean),
  model_fps_before_after: [round(median.before), round(median.after)],
  inference_ms_p50: round(pct(inferMs, 50)),
  inference_ms_p99: round(pct(inferMs, 99)),
  decode_fps: round(decodeFps),
  pipeline_fps: round(pipelineFps),
  pipeline_inference_ms_p50: round(pct(unpaced.allInference, 50)),
  overhead_ratio: round(median.ratio, 3),
  overhead_ratio_rounds: roundResults.map((r) => round(r.ratio, 3)),
  model_fps_beside_decode: round(modelFpsBesideDecode),
  decode_bound_ratio: round(modelFpsBesideDecode / modelFpsAfter, 3),
  paced: Object.fromEntries(
    Object.entries(paced).map(([k, r]) => [
      k,
      {
        latency_ms_p50: round(pct(r.latencies, 50)),
        latency_ms_p99: round(pct(r.latencies, 99)),
        inference_ms_p50: round(pct(r.inferenceMs, 50)),
        inference_ms_p99: round(pct(r.inferenceMs, 99)),
        added_ms_p99: round(pct(r.added, 99)),
        cpu_percent: round(r.cpuPercent),
        frames: r.frames,
      },
    ]),
  ),
  peak_rss_mb: round(agentRssMb),
  scenes: Object.fromEntries(Object.entries(scenes).map(([k, r]) => [k, { cpu_percent: round(r.cpuPercent), inferences: r.inferences }])),
};
const s = result.scenes;
console.log(`${result.machine}\n`);
console.log('| measure | value |\n| --- | --- |');
console.log(
  `| model_fps (before / after the pipeline run; inference p50 / p99 ms) | ${result.model_fps} (${result.model_fps_before_after.join(' / ')}; ${result.inference_ms_p50} / ${result.inference_ms_p99}) |`,
);
console.log(`| decode_fps | ${result.decode_fps} |`);
console.log(`| pipeline_fps (inference inside it, p50 ms) | ${result.pipeline_fps} (${result.pipeline_inference_ms_p50}) |`);
console.log(`| overhead_ratio (median of ${rounds} rounds: ${result.overhead_ratio_rounds.join(', ')}) | ${result.overhead_ratio} |`);
console.log(`| model_fps beside an FFmpeg decoding at the same rate (÷ alone) | ${result.model_fps_beside_decode} (${result.decode_bound_ratio}) |`);
for (const [k, v] of Object.entries(result.paced)) {
  const name = k.replace(/_/g, ' ');
  console.log(`| ${name}: latency p50 / p99 (frames) | ${v.latency_ms_p50} / ${v.latency_ms_p99} ms (${v.frames}) |`);
  console.log(
    `| ${name}: inference in the same run p50 / p99; latency minus the frame's own inference, p99 | ${v.inference_ms_p50} / ${v.inference_ms_p99} ms; ${v.added_ms_p99} ms |`,
  );
  console.log(`| ${name}: CPU of the process tree | ${v.cpu_percent} % |`);
}
console.log(`| peak RSS of the agent process (defaults, DETECT_FPS=15) | ${result.peak_rss_mb} MB |`);
for (const [k, v] of Object.entries(s)) console.log(`| ${k.replace(/_/g, ' ')}: CPU, inferences | ${v.cpu_percent} %, ${v.inferences} |`);
console.log(`| static scene CPU with gating / busy scene CPU | ${round((s.static_gating_on!.cpu_percent / s.busy_gating_on!.cpu_percent) * 100)} % |`);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
process.exit(0);
