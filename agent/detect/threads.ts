// DETECT_THREADS=0: how many onnxruntime threads this agent takes. Alone on a box, one per
// core. As one of several systemd instances (edgecam@<name>, each with its own
// /etc/edgecam/<name>.env), the cores are shared out: every instance's threads spin while
// it infers, and on a 2-core box two agents of two threads each carry two cameras where
// agents of one thread carry four or more (`npm run bench:cameras`, docs/performance.md).
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
