// `npm run bench:viewer [-- --seconds N --json PATH]`: on the bundled sample (real time,
// DETECT_FPS=5), measures the CPU of the copy restream's FFmpeg (percent of one core)
// and, in Debian's chromium, the delay from a frame leaving FFmpeg to its boxes being
// drawn on the page.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { freePort } from './net.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { PACKAGE_ROOT } from '../agent/paths.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, json: { type: 'string' } } });
const seconds = Number(values.seconds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const [viewerPort, mqttPort] = [await freePort(), await freePort()];
const hls = join(mkdtempSync(join(tmpdir(), 'edgecam-bench-')), 'live.m3u8');
const agent = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist/agent/cli.js'), 'run'], {
  env: {
    PATH: process.env.PATH,
    HTTP_PORT: String(viewerPort),
    HTTP_BIND: '127.0.0.1',
    MQTT_EMBEDDED_PORT: String(mqttPort),
    RESTREAM_URL: hls,
    STATE_DIR: join(tmpdir(), `edgecam-bench-state-${process.pid}`),
    LOG_LEVEL: 'warn',
  },
  stdio: 'ignore',
});
const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const cpuTicks = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
const restreamPid = () =>
  spawnSync('pgrep', ['-P', String(agent.pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number)
    .find((p) => /-c copy/.test(spawnSync('ps', ['-o', 'args=', '-p', String(p)], { encoding: 'utf8' }).stdout));

try {
  await sleep(5000);
  const pid = restreamPid();
  if (!pid) throw new Error('no restream FFmpeg found');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(`http://127.0.0.1:${viewerPort}/`);
  await page.waitForFunction(() => document.body.dataset.frame !== undefined, null, { timeout: 15_000 });
  const t0 = Date.now();
  const c0 = cpuTicks(pid);
  const latencies: number[] = [];
  let lastFrame = '';
  while (Date.now() - t0 < seconds * 1000) {
    const [frame, latency] = await page.evaluate(() => [document.body.dataset.frame ?? '', document.getElementById('latency')!.textContent ?? '']);
    if (frame !== lastFrame && /^\d+ ms$/.test(latency)) latencies.push(Number.parseInt(latency, 10));
    lastFrame = frame;
    await sleep(50);
  }
  const cpuPercent = ((cpuTicks(pid) - c0) / ticks / ((Date.now() - t0) / 1000)) * 100;
  await browser.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  const result = {
    seconds,
    restreamCpuPercentOfOneCore: Math.round(cpuPercent * 100) / 100,
    frameToOverlayMs: { samples: latencies.length, p50: q(50), p95: q(95), max: latencies.at(-1) },
  };
  console.log('| measure | value |\n| --- | --- |');
  console.log(`| copy restream FFmpeg CPU (bundled sample, 960x540 H.264 at 15 fps) | ${result.restreamCpuPercentOfOneCore} % of one core |`);
  console.log(`| frame out of FFmpeg → boxes drawn in chromium, p50 / p95 / max | ${q(50)} / ${q(95)} / ${latencies.at(-1)} ms (${latencies.length} frames) |`);
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
} finally {
  agent.kill('SIGTERM');
}
