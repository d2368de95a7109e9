// Docs that stay true: every relative link and anchor in README.md and docs/ resolves,
// every `npm run X` and `edgecam X` in a code block exists, every setting the docs name
// exists in the schema, every setting and topic is documented, and the README stays a
// front door (at most 200 lines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { PACKAGE_ROOT } from '../../agent/paths.js';
import { RENAMED_SETTINGS, SETTING_NAMES } from '../../agent/config/schema.js';
import { TOPIC_SCHEMAS } from '../../agent/mqtt/payloads.js';

/** The CLI's commands, as agent/cli.ts lists them (importing it would run it). */
const COMMANDS = [.../const COMMANDS = \[([^\]]*)\]/.exec(readFileSync(join(PACKAGE_ROOT, 'agent', 'cli.ts'), 'utf8'))![1]!.matchAll(/'([\w-]+)'/g)].map((m) => m[1]!);
const pages = [
  'README.md',
  ...readdirSync(join(PACKAGE_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const text = (page: string) => readFileSync(join(PACKAGE_ROOT, page), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces as -. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutCode(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

const withoutCode = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, '');
const codeBlocks = (markdown: string) => [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]!);

/** The broken relative links of one page, as "page: target (why)". */
export function brokenLinks(page: string, markdown: string, read: (path: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const m of withoutCode(markdown).matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [path, anchor] = target.split('#') as [string, string | undefined];
    const file = path ? normalize(join(dirname(page), path)) : page;
    const body = read(file);
    if (body === undefined) {
      broken.push(`${page}: ${target} (no such file)`);
      continue;
    }
    if (anchor && file.endsWith('.md') && !anchors(body).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
  }
  return broken;
}

const readRepo = (path: string) => {
  const full = join(PACKAGE_ROOT, path);
  if (!existsSync(full)) return undefined;
  return full.endsWith('.md') ? readFileSync(full, 'utf8') : '';
};

test('README.md is a front door: at most 200 lines', () => {
  const n = text('README.md').split('\n').length - 1;
  assert.ok(n <= 200, `README.md: ${n} lines`);
});

test('every relative link and anchor in README.md and docs/ resolves', () => {
  assert.ok(pages.length >= 10, pages.join());
  assert.deepEqual(
    pages.flatMap((p) => brokenLinks(p, text(p), readRepo)),
    [],
  );
});

test('the link check finds a missing file and a missing heading', () => {
  const page = 'docs/x.md';
  const read = (path: string) => (path === 'docs/y.md' ? '# Title\n\n## Two words\n' : undefined);
  assert.deepEqual(brokenLinks(page, '[a](y.md#two-words) [b](y.md#three) [c](z.md) [d](https://example.org/#x)', read), [
    'docs/x.md: y.md#three (no such heading)',
    'docs/x.md: z.md (no such file)',
  ]);
});

test('every `npm run X` and `edgecam X` in a code block exists', () => {
  const scripts = Object.keys((JSON.parse(text('package.json')) as { scripts: Record<string, string> }).scripts);
  const missing: string[] = [];
  for (const page of pages)
    for (const block of codeBlocks(text(page))) {
      for (const m of block.matchAll(/npm run(?: -s)? ([\w:-]+)/g)) if (!scripts.includes(m[1]!)) missing.push(`${page}: npm run ${m[1]}`);
      for (const m of block.matchAll(/(?:^|[\s/])edgecam ([a-z][\w-]*)/gm)) if (!COMMANDS.includes(m[1]!)) missing.push(`${page}: edgecam ${m[1]}`);
    }
  assert.deepEqual(missing, []);
});

/** Names in backticks that look like settings but are other programs' variables. */
const NOT_SETTINGS = new Set([
  'CI',
  'NOTIFY_SOCKET',
  'WATCHDOG_USEC',
  'CREDENTIALS_DIRECTORY',
  'OPENBLAS_CORETYPE',
  'OPENBLAS_L2_SIZE',
  'FUZZ_SEED',
  'NODE_ENV',
  'MALLOC_ARENA_MAX',
  'ORT_DISABLE_TELEMETRY',
  'PATH',
  'DESTDIR',
  'EDGECAM_TEST_DETECT_DELAY_MS',
  'MAINPID',
  'INVOCATION_ID',
  'TOPIC_SCHEMAS',
]);

test('every setting the docs name exists, and every setting and topic is documented', () => {
  const unknown = new Set<string>();
  for (const page of pages)
    for (const m of text(page).matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=[^`]*)?`/g)) {
      const name = m[1]!;
      if (!SETTING_NAMES.includes(name as (typeof SETTING_NAMES)[number]) && !(name in RENAMED_SETTINGS) && !NOT_SETTINGS.has(name)) unknown.add(`${page}: ${name}`);
    }
  assert.deepEqual([...unknown], []);
  const configuration = text('docs/configuration.md');
  for (const name of SETTING_NAMES) assert.ok(configuration.includes(`| \`${name}\` |`), `${name} is not in docs/configuration.md`);
  const readme = text('README.md');
  for (const topic of Object.keys(TOPIC_SCHEMAS)) assert.ok(readme.includes(`| \`${topic}\` |`), `topic ${topic} is not in the README's table`);
});

test('docs pages are reachable from the README', () => {
  const readme = text('README.md');
  const linked = new Set([...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!));
  const unlinked = pages.filter((p) => p.startsWith('docs/') && !linked.has(p)).map((p) => relative('.', p));
  assert.deepEqual(unlinked, []);
});
