// Runs `edgecam` as a child process, as a user or systemd would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './paths.js';

export interface Run {
  child: ChildProcess;
  cwd: string;
  stdout: () => string;
  stderr: () => string;
  /** The JSON log lines so far. */
  lines: () => Record<string, unknown>[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts edgecam in `cwd` (default: a new empty directory, so no stray .env is read). */
export function edgecam(args: string[], env: Record<string, string>, cwd = mkdtempSync(join(tmpdir(), 'edgecam-run-'))): Run {
  // The viewer is off unless a test asks for it, and the HTTP server takes a free port:
  // several agents run at once in the suite.
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH!, VIEWER_ENABLED: 'false', HTTP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = () =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, cwd, stdout: () => stdout, stderr: () => stderr, lines, exit };
}

export const childrenOf = (pid: number) =>
  spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);

/** Running: the process exists and is not a zombie (dead, waiting to be reaped). */
export const running = (pid: number) => {
  try {
    // /proc/PID/stat: "pid (comm) S ..."; comm may hold spaces or parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/** The process exists, zombies included: a killed child that its parent has not reaped is still here. */
export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits for a condition, polling every 50 ms, up to timeoutMs. */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agent's HTTP server, from its 'HTTP server listening' line (HTTP_PORT=0 picks a free port). */
export async function httpBase(run: Run, timeoutMs = 30_000): Promise<string> {
  await until(() => run.lines().some((l) => l.msg === 'HTTP server listening'), timeoutMs, 'the HTTP server');
  const url = run.lines().find((l) => l.msg === 'HTTP server listening')!.url as string;
  return url.replace('localhost', '127.0.0.1').replace(/\/$/, '');
}

/** One value from the agent's /metrics, or undefined when the agent does not answer. */
export async function metric(base: string, name: string, headers: Record<string, string> = {}): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${base}/metrics`, { headers })).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Waits for an async condition, polling every 100 ms, up to timeoutMs. */
export async function untilAsync(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
