// `npm run bench:cameras [-- --max N --seconds S --json PATH]`: how many cameras one box
// carries. N agents run as separate processes, as the systemd template runs them, each
// on its own looping 720p H.264 clip paced in real time at DETECT_FPS=5, with motion
// gating off (every frame is inferred: a busy scene on every camera), all publishing to
// one broker on loopback. An agent keeps up when it processes at least 95 % of the
// frames it should (5 a second) and 99 % of its frames reach the broker within 400 ms of
// leaving capture (edgecam_frame_latency_ms). The largest N where every agent keeps up is
// found for each model, with the default threads (one per core in every agent) and with
// DETECT_THREADS=1.
//
// With --instances N, N agents at their defaults as systemd instances instead
// (scripts/instances.ts), measured from their start; --viewer turns their viewers on,
// --model sets MODEL, --still gives every camera a still scene (what an idle camera costs).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedBroker } from '../agent/mqtt/broker.js';
import { createLogger } from '../agent/log.js';
import { printInstances, runInstances } from './instances.js';
import { makeStill720pClip, make720pClip, scrapeMetrics, spawnClipAgent, stopAgents, waitForMetrics, type ClipAgent } from './clips.js';

const { values } = parseArgs({
  options: {
    max: { type: 'string', default: '8' },
    seconds: { type: 'string' },
    json: { type: 'string' },
    instances: { type: 'string' },
    viewer: { type: 'boolean', default: false },
    model: { type: 'string' },
    still: { type: 'boolean', default: false },
  },
});
const maxN = Number(values.max);
const seconds = Number(values.seconds ?? (values.instances ? 45 : 20));
const FPS = 5;
const WARMUP_S = 8;
const dir = mkdtempSync(join(tmpdir(), 'edgecam-cameras-'));
const log = createLogger({ level: 'warn', pretty: false });

interface AgentResult {
  processed: number;
  expected: number;
  processedShare: number;
  withinShare: number;
  ok: boolean;
}

async function runCameras(n: number, clip: string, mqttUrl: string, env: Record<string, string>): Promise<AgentResult[]> {
  const agents: ClipAgent[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const stateDir = join(dir, `state-${n}-${i}`);
      agents.push(
        await spawnClipAgent(clip, stateDir, {
          SOURCE_REALTIME: 'true',
          DETECT_FPS: String(FPS),
          MQTT_URL: mqttUrl,
          TOPIC_PREFIX: `cam${i}/`,
          DEVICE_ID: `cam${i}`,
          ...env,
        }),
      );
    }
    // Up and warm: every agent answers, then the first seconds (model load, FFmpeg start) pass.
    for (const a of agents) await waitForMetrics(a.port);
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    const before = await Promise.all(agents.map((a) => scrapeMetrics(a.port)));
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = await Promise.all(agents.map((a) => scrapeMetrics(a.port)));
    const elapsed = (performance.now() - t0) / 1000;
    return after.map((a, i) => {
      const b = before[i]!;
      const processed = a.framesIn - a.dropped - (b.framesIn - b.dropped);
      const expected = FPS * elapsed;
      const acked = a.latencyCount - b.latencyCount;
      const processedShare = processed / expected;
      const withinShare = acked ? (a.within400 - b.within400) / acked : 0;
      return { processed, expected: Math.round(expected), processedShare, withinShare, ok: processedShare >= 0.95 && withinShare >= 0.99 };
    });
  } finally {
    await stopAgents(agents);
  }
}

const clip = values.still ? makeStill720pClip(dir) : make720pClip(dir);
const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log });
const mqttUrl = `mqtt://127.0.0.1:${broker.port}`;
if (values.instances) {
  const n = Number(values.instances);
  const env = { VIEWER_ENABLED: String(values.viewer), ...(values.model ? { MODEL: values.model } : {}) };
  try {
    const r = await runInstances(n, seconds, clip, mqttUrl, dir, env);
    printInstances(n, seconds, `${values.model ?? 'the default model'}, viewer ${values.viewer ? 'on' : 'off'}${values.still ? ', a still scene' : ''}`, r);
    if (values.json) writeFileSync(values.json, JSON.stringify({ instances: n, seconds, env, ...r }, null, 2));
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}
const configs = [
  { model: 'centernet-fp32', threads: 'default' },
  { model: 'centernet-fp32', threads: '1' },
  { model: 'centernet-int8', threads: 'default' },
  { model: 'centernet-int8', threads: '1' },
];
const results: { model: string; threads: string; n: number; agents: AgentResult[] }[] = [];
const best: Record<string, number> = {};
try {
  for (const c of configs) {
    const key = `${c.model} ${c.threads}`;
    best[key] = 0;
    for (let n = 1; n <= maxN; n++) {
      const agents = await runCameras(n, clip, mqttUrl, { MODEL: c.model, ...(c.threads === '1' ? { DETECT_THREADS: '1' } : {}) });
      results.push({ ...c, n, agents });
      const worst = agents.reduce((w, a) => (a.processedShare < w.processedShare ? a : w));
      const worstLatency = Math.min(...agents.map((a) => a.withinShare));
      console.error(`${key}: N=${n}: worst agent ${(worst.processedShare * 100).toFixed(1)} % of frames, ${(worstLatency * 100).toFixed(1)} % within 400 ms`);
      if (!agents.every((a) => a.ok)) break;
      best[key] = n;
    }
  }
} finally {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\n${availableParallelism()} cores; each agent: a looping 720p H.264 clip in real time, DETECT_FPS=${FPS}, motion gating off; ${seconds} s measured after ${WARMUP_S} s\n`,
);
console.log('| model | DETECT_THREADS | cameras that keep up | at N+1: worst agent, frames processed / within 400 ms |');
console.log('| --- | --- | --- | --- |');
for (const c of configs) {
  const key = `${c.model} ${c.threads}`;
  const next = results.find((r) => r.model === c.model && r.threads === c.threads && r.n === best[key]! + 1);
  const worst = next
    ? `${(Math.min(...next.agents.map((a) => a.processedShare)) * 100).toFixed(1)} % / ${(Math.min(...next.agents.map((a) => a.withinShare)) * 100).toFixed(1)} %`
    : `not reached (--max ${maxN})`;
  console.log(`| ${c.model} | ${c.threads === 'default' ? '0 (one per core)' : c.threads} | ${best[key]} | ${worst} |`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ seconds, fps: FPS, best, results }, null, 2));
