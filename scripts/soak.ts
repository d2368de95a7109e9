// `npm run soak -- --minutes N [--json PATH] [--threads T] [--watch]`: runs the whole
// pipeline at full speed on the bundled clip (looped, unpaced) with the embedded broker
// and a subscriber, and reports RSS, heap, open file descriptors and event-loop lag over
// time. --watch also keeps a viewer client on /stream.mjpeg, so every processed frame is
// copied, leased and encoded as JPEG.
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { get } from 'node:http';
import mqtt from 'mqtt';
import { loadConfig } from '../agent/config/index.js';
import { startAgent } from '../agent/main.js';
import { createLogger } from '../agent/log.js';
import { BUNDLED_SAMPLE } from '../agent/paths.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    json: { type: 'string' },
    threads: { type: 'string', default: '1' },
    interval: { type: 'string', default: '10' },
    watch: { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const intervalS = Number(values.interval);
if (!(minutes > 0 && minutes <= 24 * 60)) {
  console.error('soak: --minutes must be between 0 and 1440');
  process.exit(64);
}

const cwd = mkdtempSync(join(tmpdir(), 'edgecam-soak-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const viewerPort = port + 1;
const config = loadConfig({
  env: {
    SOURCE: BUNDLED_SAMPLE,
    SOURCE_LOOP: 'true',
    VIEWER_ENABLED: String(values.watch),
    HTTP_PORT: String(viewerPort),
    HTTP_BIND: '127.0.0.1',
    SOURCE_REALTIME: 'false',
    MQTT_EMBEDDED_PORT: String(port),
    DETECT_THREADS: values.threads!,
    METERS_PER_PIXEL: '0.05',
    LOG_LEVEL: 'warn',
  },
  cwd,
});
const log = createLogger({ level: 'warn', pretty: false });
const agent = await startAgent(config, log);
let frames = 0;
agent.bus.on('detections', () => frames++);
const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
let received = 0;
sub.on('message', () => received++);
await sub.subscribeAsync(['class', 'speedometer']);
let jpegBytes = 0;
const watcher = values.watch ? get(`http://127.0.0.1:${viewerPort}/stream.mjpeg`, (res) => res.on('data', (chunk: Buffer) => (jpegBytes += chunk.length))) : undefined;
watcher?.on('error', (err) => console.error(`soak: viewer client: ${err.message}`));

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const fds = () => readdirSync('/proc/self/fd').length;
/** RSS in MB of this process's children (FFmpeg). */
function childrenRssMb(): number {
  let kb = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) === process.pid) kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // a process that just exited
    }
  }
  return kb / 1024;
}

interface Sample {
  t: number;
  rssMb: number;
  heapMb: number;
  ffmpegRssMb: number;
  fds: number;
  lagP99Ms: number;
  lagMaxMs: number;
  frames: number;
  received: number;
}
const samples: Sample[] = [];
const started = Date.now();
const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
console.log('| t (s) | RSS MB | heap MB | FFmpeg RSS MB | fds | loop lag p99 ms | max ms | frames | messages |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const s: Sample = {
      t: Math.round((Date.now() - started) / 1000),
      rssMb: mb(m.rss),
      heapMb: mb(m.heapUsed),
      ffmpegRssMb: Math.round(childrenRssMb() * 10) / 10,
      fds: fds(),
      lagP99Ms: Math.round(lag.percentile(99) / 1e5) / 10,
      lagMaxMs: Math.round(lag.max / 1e5) / 10,
      frames,
      received,
    };
    lag.reset();
    samples.push(s);
    console.log(`| ${s.t} | ${s.rssMb} | ${s.heapMb} | ${s.ffmpegRssMb} | ${s.fds} | ${s.lagP99Ms} | ${s.lagMaxMs} | ${s.frames} | ${s.received} |`);
    if (Date.now() - started >= minutes * 60_000) {
      clearInterval(timer);
      resolve();
    }
  }, intervalS * 1000);
});

watcher?.destroy();
await sub.endAsync();
const code = await agent.stop('soak finished');
// Warm-up: the first fifth of the run (at least one sample). Growth compares the median
// of the first and the last fifth after it, so one GC cycle does not decide it.
const warm = samples.slice(Math.max(1, Math.floor(samples.length / 5)));
const fifth = Math.max(1, Math.floor(warm.length / 5));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rssStart = median(warm.slice(0, fifth).map((s) => s.rssMb));
const rssEnd = median(warm.slice(-fifth).map((s) => s.rssMb));
const summary = {
  minutes,
  frames,
  framesPerSecond: Math.round((frames / ((Date.now() - started) / 1000)) * 10) / 10,
  messagesReceived: received,
  viewerMegabytes: values.watch ? mb(jpegBytes) : undefined,
  rssAfterWarmupMb: rssStart,
  rssAtEndMb: rssEnd,
  rssGrowthPercent: Math.round(((rssEnd - rssStart) / rssStart) * 1000) / 10,
  peakRssMb: Math.max(...samples.map((s) => s.rssMb)),
  fdsAfterWarmup: warm[0]?.fds,
  fdsAtEnd: samples.at(-1)?.fds,
  maxLoopLagMs: Math.max(...samples.map((s) => s.lagMaxMs)),
  exitCode: code,
};
console.log('\n' + JSON.stringify(summary, null, 2));
if (values.json) writeFileSync(values.json, JSON.stringify({ summary, samples }, null, 2));
process.exit(code);
