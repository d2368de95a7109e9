// Checks of single settings that need more than the schema: env-file lines, the state
// directory, lavfi graphs, where the HTTP server may listen.
import { accessSync, constants, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirectory } from '../paths.js';
import type { RawConfig } from './schema.js';

/**
 * Line numbers of an env file that are neither NAME=value, a comment nor blank (Node's
 * parser skips such a line silently, and may join the next one to it). A quoted value may
 * span lines.
 */
export function malformedLines(text: string): number[] {
  const bad: number[] = [];
  let open: string | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    if (open) {
      if (line.includes(open)) open = undefined;
      return;
    }
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const m = /^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*(["'`]?)(.*)$/.exec(trimmed);
    if (!m) return void bad.push(i + 1);
    const quote = m[1];
    if (quote && !m[2]!.includes(quote)) open = quote;
  });
  return bad;
}

/** FFmpeg's test-pattern sources: none of them reads or writes a file. */
export const LAVFI_SOURCES = [
  'testsrc',
  'testsrc2',
  'rgbtestsrc',
  'yuvtestsrc',
  'smptebars',
  'smptehdbars',
  'pal75bars',
  'pal100bars',
  'color',
  'nullsrc',
  'mandelbrot',
  'allrgb',
  'allyuv',
  'gradients',
  'zoneplate',
];

/** One source filter from the list with its own options: no chain (,), no second graph (;), no labels. */
export const isTestPattern = (graph: string) => {
  const m = /^([a-z0-9]+)(=[^,;[\]]*)?$/.exec(graph);
  return Boolean(m && LAVFI_SOURCES.includes(m[1]!));
};

/** The state directory must be one the agent can create and write; /proc or a read-only place is a mistake to say at once. */
export function checkStateDir(dir: string, problems: string[]): void {
  try {
    makeDirectory(dir);
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
    const probe = join(dir, `.edgecam-write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    problems.push(
      `STATE_DIR=${JSON.stringify(dir)}: cannot use it as a writable directory (${code}); give one the agent may create and write, e.g. STATE_DIR=/var/lib/edgecam/front`,
    );
  }
}

/** Loopback addresses: only this machine reaches a server bound to them. */
export const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i.test(host);

/**
 * Secure by default: without HTTP_TOKEN the server stays on loopback, and binding it to the
 * network without a token is refused unless the user says the network is trusted.
 */
export function resolveHttpBind(raw: RawConfig, problems: string[]): string {
  if (raw.HTTP_BIND === 'auto') return raw.HTTP_TOKEN ? '0.0.0.0' : '127.0.0.1';
  if (!raw.HTTP_ENABLED || raw.HTTP_TOKEN || raw.HTTP_ALLOW_UNAUTHENTICATED || isLoopback(raw.HTTP_BIND)) return raw.HTTP_BIND;
  problems.push(
    `HTTP_BIND=${raw.HTTP_BIND}: would show the camera to the network without a token; set HTTP_TOKEN to a secret (for example the output of: openssl rand -hex 16), or HTTP_ALLOW_UNAUTHENTICATED=true on a network where everyone may watch`,
  );
  return raw.HTTP_BIND;
}

/** RPICAM_PATH, when given for the camera module, must be a program this user may run. */
export function checkRpicamPath(path: string | undefined, kind: string, problems: string[]): void {
  if (!path || kind !== 'rpicam') return;
  try {
    accessSync(path, constants.X_OK);
    if (statSync(path).isFile()) return;
  } catch {
    // reported below
  }
  problems.push(
    `RPICAM_PATH=${JSON.stringify(path)}: no such program (give the path of rpicam-vid, or libcamera-vid before Bookworm, e.g. RPICAM_PATH=/usr/bin/rpicam-vid; empty: found on PATH)`,
  );
}
