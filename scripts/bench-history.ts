// What the history and the evidence photos cost a running agent, side by side in one run:
// the agent on a looping clip at DETECT_FPS=5 with two counting lines, in alternating
// rounds of each variant; CPU (the agent and its FFmpeg, from /proc, after a warm-up) in
// % of one core, and resident memory (the agent's median after the warm-up, FFmpeg's
// beside it). Then the store alone: µs per row written, in batches as the agent writes.
//
//   npm run bench:history -- [--seconds 40] [--rounds 3] [--only store|pictures]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUNDLED_SAMPLE, PACKAGE_ROOT } from '../agent/paths.js';
import { HistoryStore } from '../agent/history/store.js';
import { crossingRow } from '../agent/history/rows.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '40' }, rounds: { type: 'string', default: '3' }, only: { type: 'string' } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const WARMUP = 12;
const CLI = join(PACKAGE_ROOT, 'dist', 'agent', 'cli.js');
const TICK = 100; // USER_HZ on Linux

const cpuTicks = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
};
const rssMb = (pid: number) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return 0;
  }
};
const children = (pid: number) =>
  spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Result {
  agentCpu: number;
  ffmpegCpu: number;
  agentRss: number;
  ffmpegRss: number;
}

async function round(env: Record<string, string>): Promise<Result> {
  const state = mkdtempSync(join(tmpdir(), 'edgecam-bench-history-'));
  const child = spawn(process.execPath, [CLI], {
    // MALLOC_ARENA_MAX as the systemd unit sets it.
    env: { PATH: process.env.PATH!, MALLOC_ARENA_MAX: '2', STATE_DIR: state, MQTT_EMBEDDED_PORT: '0', HTTP_PORT: '0', DETECT_FPS: '5', LOG_LEVEL: 'warn', ...env },
    stdio: 'ignore',
  });
  const pid = child.pid!;
  const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
  await sleep(WARMUP);
  const ffmpeg = () => children(pid).filter((c) => /ffmpeg/.test(readFileSync(`/proc/${c}/cmdline`, 'utf8')));
  const start = { agent: cpuTicks(pid), ffmpeg: ffmpeg().reduce((a, c) => a + cpuTicks(c), 0) };
  const rss: number[] = [];
  const frss: number[] = [];
  for (let t = 0; t < SECONDS; t++) {
    await sleep(1);
    rss.push(rssMb(pid));
    frss.push(ffmpeg().reduce((a, c) => a + rssMb(c), 0));
  }
  const end = { agent: cpuTicks(pid), ffmpeg: ffmpeg().reduce((a, c) => a + cpuTicks(c), 0) };
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(state, { recursive: true, force: true });
  return {
    agentCpu: ((end.agent - start.agent) / TICK / SECONDS) * 100,
    ffmpegCpu: ((end.ffmpeg - start.ffmpeg) / TICK / SECONDS) * 100,
    agentRss: median(rss),
    ffmpegRss: median(frss),
  };
}

async function compare(title: string, variants: [string, Record<string, string>][]): Promise<void> {
  const results = new Map<string, Result[]>(variants.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [name, env] of r % 2 ? [...variants].reverse() : variants) results.get(name)!.push(await round(env));
  console.log(`\n${title} (${ROUNDS} rounds of ${SECONDS} s each, alternating; medians)\n`);
  console.log('| variant | agent CPU (% of a core) | FFmpeg CPU | agent RSS (MB) | FFmpeg RSS (MB) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, rs] of results) {
    const m = (k: keyof Result) => median(rs.map((x) => x[k])).toFixed(1);
    console.log(`| ${name} | ${m('agentCpu')} | ${m('ffmpegCpu')} | ${m('agentRss')} | ${m('ffmpegRss')} |`);
  }
}

function storeCost(): void {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-bench-store-'));
  const store = HistoryStore.open(join(dir, 'history.sqlite'));
  console.log('\nThe store alone: rows written in one transaction per batch (each batch is fsync-ed)\n');
  console.log('| rows per batch | ms per batch | µs per row |');
  console.log('| --- | --- | --- |');
  for (const size of [1, 10, 100, 500]) {
    const batches = Math.max(20, Math.round(2000 / size));
    const began = performance.now();
    for (let b = 0; b < batches; b++)
      store.insert(
        Array.from({ length: size }, (_, i) =>
          crossingRow({
            line: 'gate',
            direction: 'in',
            trackId: b * size + i,
            className: 'car',
            pts: b,
            timestamp: new Date().toISOString(),
            speed: { value: 42, unit: 'km/h', errorEstimate: 1, samples: 5 },
          }),
        ),
      );
    const ms = (performance.now() - began) / batches;
    console.log(`| ${size} | ${ms.toFixed(2)} | ${((ms * 1000) / size).toFixed(0)} |`);
  }
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

const lines = { LINES: 'left:320,540;320,0|right:640,540;640,0' };
if (values.only !== 'pictures') {
  await compare('History store and interval statistics, bundled sample (960x540), two lines', [
    ['history off (HISTORY_DAYS=0)', { ...lines, HISTORY_DAYS: '0', STATS_INTERVAL: '10' }],
    ['history on, stats every 10 s', { ...lines, HISTORY_DAYS: '90', STATS_INTERVAL: '10' }],
  ]);
  storeCost();
}
if (values.only !== 'store') {
  const hd = join(mkdtempSync(join(tmpdir(), 'edgecam-bench-1080p-')), 'sample-1080p.mp4');
  // The bundled sample scaled to 1920x1080, as a 1080p camera would deliver it.
  spawnSync('ffmpeg', ['-v', 'error', '-i', BUNDLED_SAMPLE, '-vf', 'scale=1920:1080', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-y', hd], { stdio: 'inherit' });
  const photos = { EVIDENCE_CLASSES: 'person,dog,cat,sheep,horse,car,truck,bicycle,bird,cow' };
  for (const [label, source] of [
    ['bundled sample (960x540)', BUNDLED_SAMPLE],
    ['1080p clip', hd],
  ] as const) {
    await compare(`Pictures at the source's size for evidence photos, ${label}, two lines`, [
      ['evidence off', { ...lines, SOURCE: source, SOURCE_LOOP: 'true' }],
      ['evidence on', { ...lines, ...photos, SOURCE: source, SOURCE_LOOP: 'true' }],
    ]);
  }
}
