// Runs `edgecam` as a child process, as a user or systemd would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH!, VIEWER_ENABLED: 'false', HTTP_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
