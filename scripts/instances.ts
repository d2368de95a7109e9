// `npm run bench:cameras -- --instances N [--seconds 45] [--viewer] [--json PATH]`: N
// cameras as `scripts/install.sh --instance` makes them. Every agent runs with the
// defaults (model, threads, motion gating) as a systemd instance does: INSTANCE is set,
// the configuration folder holds one env file per instance, so DETECT_THREADS=0 shares
// the cores out, and the unit's own environment (MALLOC_ARENA_MAX, NODE_ENV) and
// scheduling policy (batch) are given. Each reads its own looping 720p H.264 clip in real time, all publish to
// one broker on loopback, and the run is measured from the agents' start, start-up
// included. Per agent: frames processed of those its FFmpeg delivered, p99 latency
// (capture → broker's acknowledgement), peak RSS; and where the CPU went, per process
// kind and, in the agent, its main thread apart from the rest (inference worker,
// onnxruntime's pool, V8's helpers).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../agent/paths.js';
import { metricsText, scrapeMetrics, spawnClipAgent, stopAgents, type ClipAgent } from './clips.js';

export interface InstanceResult {
  name: string;
  delivered: number;
  processed: number;
  share: number;
  /** The share after the first START_S seconds: start-up left out. */
  steadyShare: number;
  p99Ms: number;
  peakRssMb: number;
  /** At the end: the agent's proportional share of the memory it shares with the others (libraries, the model file), and its own. */
  pssMb: number;
  privateMb: number;
  ffmpegPeakRssMb: number;
}

export interface CpuShares {
  /** Percent of one core, averaged over the run, summed over the agents. */
  ffmpeg: number;
  agentMain: number;
  agentOther: number;
}

const TICKS = 100;
const UNIT = readFileSync(join(PACKAGE_ROOT, 'systemd', 'edgecam@.service'), 'utf8');
/** The environment the systemd unit gives every instance (systemd/edgecam@.service), but for its per-instance names. */
const UNIT_ENV = Object.fromEntries(
  UNIT.split('\n')
    .filter((l) => l.startsWith('Environment='))
    .flatMap((l) => l.slice('Environment='.length).split(/\s+/))
    .map((kv) => kv.split('=') as [string, string])
    .filter(([, v]) => !v.includes('%')),
);
/** The unit's scheduling policy, through chrt (util-linux). */
const UNIT_SCHEDULING = /^CPUSchedulingPolicy=batch$/m.test(UNIT) ? ['chrt', '--batch', '0'] : [];
const START_S = 15;

/** CPU seconds of a process (or one of its threads) from /proc: utime + stime. */
function cpuSeconds(statPath: string): number {
  try {
    const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

function peakRssMb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Pss and private (Private_Clean + Private_Dirty) memory of a process, MB. */
function sharedAndOwn(pid: number): { pss: number; own: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { pss: Math.round(kb('Pss') / 1024), own: Math.round((kb('Private_Clean') + kb('Private_Dirty')) / 1024) };
  } catch {
    return { pss: 0, own: 0 };
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

interface Usage {
  main: number;
  other: number;
  ffmpeg: number;
  ffmpegRss: number;
}

/** What an agent and its FFmpeg have used so far; a restarted FFmpeg's earlier use is lost, which the run reports as restarts. */
function usage(pid: number): Usage {
  const main = cpuSeconds(`/proc/${pid}/task/${pid}/stat`);
  const ffmpegs = childrenOf(pid);
  return {
    main,
    other: cpuSeconds(`/proc/${pid}/stat`) - main,
    ffmpeg: ffmpegs.reduce((s, c) => s + cpuSeconds(`/proc/${c}/stat`), 0),
    ffmpegRss: Math.max(0, ...ffmpegs.map(peakRssMb)),
  };
}

/** The latency histogram's p99, as the upper bound of the bucket it falls in. */
export function histogramP99(text: string, name: string): number {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`, 'gm'))].map((m) => ({ le: Number(m[1]), count: Number(m[2]) }));
  const total = buckets.at(-1)?.count ?? 0;
  if (!total) return NaN;
  return buckets.find((b) => b.count >= 0.99 * total)!.le;
}

export async function runInstances(
  n: number,
  seconds: number,
  clip: string,
  mqttUrl: string,
  dir: string,
  env: Record<string, string>,
): Promise<{ agents: InstanceResult[]; cpu: CpuShares }> {
  const configDir = join(dir, `etc-${n}`);
  const names = Array.from({ length: n }, (_, i) => `cam${i}`);
  mkdirSync(configDir, { recursive: true });
  for (const name of names) writeFileSync(join(configDir, `${name}.env`), `SOURCE=${clip}\n`);
  const agents: ClipAgent[] = [];
  const t0 = performance.now();
  try {
    for (const name of names)
      agents.push(
        await spawnClipAgent(
          clip,
          join(dir, `state-${n}-${name}`),
          {
            ...UNIT_ENV,
            INSTANCE: name,
            EDGECAM_CONFIG_DIR: configDir,
            SOURCE_REALTIME: 'true',
            MOTION_GATING: 'true',
            MQTT_URL: mqttUrl,
            TOPIC_PREFIX: `${name}/`,
            DEVICE_ID: name,
            ...env,
          },
          UNIT_SCHEDULING,
        ),
      );
    const last = new Map<number, Usage>();
    const deadline = t0 + seconds * 1000;
    let early: (Awaited<ReturnType<typeof scrapeMetrics>> | undefined)[] | undefined;
    // Sampled each second: a process's counters are gone once it has exited.
    while (performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - performance.now()))));
      for (const a of agents) last.set(a.child.pid!, usage(a.child.pid!));
      if (!early && performance.now() - t0 >= START_S * 1000) early = await Promise.all(agents.map((a) => scrapeMetrics(a.port).catch(() => undefined)));
    }
    const elapsed = (performance.now() - t0) / 1000;
    const texts = await Promise.all(agents.map((a) => metricsText(a.port)));
    const results = await Promise.all(
      agents.map(async (a, i) => {
        const s = await scrapeMetrics(a.port);
        const processed = s.framesIn - s.dropped;
        const e = early?.[i];
        const steady = e ? s.framesIn - e.framesIn : 0;
        return {
          name: names[i]!,
          delivered: s.framesIn,
          processed,
          share: s.framesIn ? processed / s.framesIn : 0,
          steadyShare: steady && e ? (steady - (s.dropped - e.dropped)) / steady : NaN,
          p99Ms: histogramP99(texts[i]!, 'edgecam_frame_latency_ms'),
          peakRssMb: Math.round(peakRssMb(a.child.pid!)),
          pssMb: sharedAndOwn(a.child.pid!).pss,
          privateMb: sharedAndOwn(a.child.pid!).own,
          ffmpegPeakRssMb: Math.round(last.get(a.child.pid!)?.ffmpegRss ?? 0),
        };
      }),
    );
    const sum = (f: (u: Usage) => number) => Math.round(([...last.values()].reduce((s, u) => s + f(u), 0) / elapsed) * 1000) / 10;
    return { agents: results, cpu: { ffmpeg: sum((u) => u.ffmpeg), agentMain: sum((u) => u.main), agentOther: sum((u) => u.other) } };
  } finally {
    await stopAgents(agents);
  }
}

export function printInstances(n: number, seconds: number, label: string, r: { agents: InstanceResult[]; cpu: CpuShares }): void {
  const shares = r.agents.map((a) => a.share);
  console.log(
    `\n${label}: ${n} instances on ${availableParallelism()} cores, ${seconds} s from start: frames processed of those delivered ${(Math.min(...shares) * 100).toFixed(1)}–${(Math.max(...shares) * 100).toFixed(1)} %, p99 latency ${r.agents.some((a) => !Number.isNaN(a.p99Ms)) ? `${Math.max(...r.agents.filter((a) => !Number.isNaN(a.p99Ms)).map((a) => a.p99Ms))} ms at worst` : '— (nothing published)'}`,
  );
  console.log(`| instance | delivered | processed | share | share after ${START_S} s | p99 latency ms (bucket) | peak RSS MB agent / FFmpeg | agent Pss / private MB at the end |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const a of r.agents)
    console.log(
      `| ${a.name} | ${a.delivered} | ${a.processed} | ${(a.share * 100).toFixed(1)} % | ${(a.steadyShare * 100).toFixed(1)} % | ${Number.isNaN(a.p99Ms) ? '—' : `≤ ${a.p99Ms}`} | ${a.peakRssMb} / ${a.ffmpegPeakRssMb} | ${a.pssMb} / ${a.privateMb} |`,
    );
  const total = r.cpu.ffmpeg + r.cpu.agentMain + r.cpu.agentOther;
  console.log(
    `CPU (percent of one core, all instances): FFmpeg ${r.cpu.ffmpeg}, agents' main threads ${r.cpu.agentMain}, agents' other threads (inference) ${r.cpu.agentOther}; total ${Math.round(total)} of ${availableParallelism() * 100}`,
  );
}
