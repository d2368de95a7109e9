// The cores this agent may take. Alone on a box, every one. As one of several systemd
// instances (edgecam@<name>, each with its own /etc/edgecam/<name>.env), the cores are
// shared out: every instance's threads spin while it infers, and on a 2-core box two
// agents of two threads each carry two cameras where agents of one thread carry four or
// more (`npm run bench:cameras`, docs/performance.md). DETECT_THREADS=0 gives onnxruntime
// this many threads, and FFmpeg's decoder gets as many when the box is shared.
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export const INSTANCE_CONFIG_DIR = '/etc/edgecam';

export function autoThreads(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism(), configDir = env.EDGECAM_CONFIG_DIR ?? INSTANCE_CONFIG_DIR): number {
  if (!env.INSTANCE || !existsSync(configDir)) return cores;
  let instances: number;
  try {
    instances = readdirSync(configDir).filter((f) => f.endsWith('.env')).length;
  } catch {
    return cores;
  }
  return Math.max(1, Math.floor(cores / Math.max(1, instances)));
}

/** FFmpeg's decoding threads: its own choice when the agent has the box, the agent's share when instances share it (one thread decodes a 720p stream with 12 % less CPU than FFmpeg's default: docs/performance.md, cameras per box). */
export function decoderThreads(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): number | undefined {
  const share = autoThreads(env, cores);
  return share < cores ? share : undefined;
}
