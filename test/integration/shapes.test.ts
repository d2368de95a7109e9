// Shapes over MQTT: set/lines on an agent started without LINES counts on the new line at
// once, a malformed value is refused with its reason and changes nothing, and the saved
// line is still counting after a restart with the same settings; the HTTP save refuses
// a request without the token, from another site, or not in JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../agent/mqtt/broker.js';
import { memoryLogger } from '../helpers/log.js';
import { subscribe } from '../helpers/net.js';
import { edgecam, httpBase, sleep, until, type Run } from '../helpers/agent.js';
import { spawnSync } from 'node:child_process';
import { CLI } from '../helpers/paths.js';
import { linePayload } from '../../agent/mqtt/payloads.js';

const LINE = 'middle:480,520;480,60';

describe('shapes over MQTT', { timeout: 150_000 }, () => {
  let broker: EmbeddedBroker;
  let url: string;
  const state = mkdtempSync(join(tmpdir(), 'edgecam-shapes-'));
  const env = () => ({ MQTT_URL: url, DETECT_THREADS: '1', STATE_DIR: state });

  before(async () => {
    broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
    url = `mqtt://127.0.0.1:${broker.port}`;
  });
  after(() => broker.close());

  const stop = async (run: Run) => {
    run.child.kill('SIGTERM');
    await run.exit;
  };

  test('set/lines: counting within 10 s; a malformed value refused with its reason, nothing changed; kept across a restart', async () => {
    const sub = await subscribe(url, ['set/result', 'line/#', 'status']);
    let run = edgecam([], env());
    try {
      // Running: subscribed to its commands, frames flowing.
      await until(() => run.lines().some((l) => l.msg === 'source opened'), 60_000, 'frames');
      assert.ok(!sub.messages.some((m) => m.topic.startsWith('line/')), 'no line before set/lines');
      const sent = Date.now();
      await sub.client.publishAsync('set/lines', LINE);
      await sub.waitFor((m) => m.some((x) => x.topic === 'set/result'));
      const ok = sub.messages.find((m) => m.topic === 'set/result')!.json<{ setting: string; ok: boolean }>();
      assert.deepEqual([ok.setting, ok.ok], ['lines', true], JSON.stringify(ok));
      await sub.waitFor((m) => m.some((x) => x.topic === 'line/middle'), 10_000);
      const after = (Date.now() - sent) / 1000;
      assert.ok(after <= 10, `first crossing ${after.toFixed(1)} s after set/lines`);
      const crossing = linePayload.parse(sub.messages.find((m) => m.topic === 'line/middle')!.json());
      assert.equal(crossing.line, 'middle');
      assert.ok(existsSync(join(state, 'shapes.json')), 'saved in STATE_DIR');

      // Malformed: refused with the reason, the line stays.
      const before = JSON.parse(readFileSync(join(state, 'shapes.json'), 'utf8')) as unknown;
      for (const bad of ['middle:480,520', 'middle:480,520;480,60|middle:1,2;3,4', 'mid dle:1,2;3,4', 'far:480,520;4800,60']) {
        const n = sub.messages.filter((m) => m.topic === 'set/result').length;
        await sub.client.publishAsync('set/lines', bad);
        await sub.waitFor((m) => m.filter((x) => x.topic === 'set/result').length > n);
        const refused = sub.messages
          .filter((m) => m.topic === 'set/result')
          .at(-1)!
          .json<{ ok: boolean; error: string }>();
        assert.equal(refused.ok, false, bad);
        assert.match(refused.error, /LINES|outside|point|name/, `${bad}: ${refused.error}`);
      }
      assert.match(
        sub.messages
          .filter((m) => m.topic === 'set/result')
          .at(-1)!
          .json<{ error: string }>().error,
        /outside the 960x540 frame/,
      );
      assert.deepEqual(JSON.parse(readFileSync(join(state, 'shapes.json'), 'utf8')), before, 'a refused value changes nothing');
      const crossings = sub.messages.filter((m) => m.topic === 'line/middle').length;
      await sub.waitFor((m) => m.filter((x) => x.topic === 'line/middle').length > crossings, 15_000);

      // A calibration at twice the sample's scale (0.1 m a pixel, not 0.05): the next speeds at the line double.
      const results = () => sub.messages.filter((m) => m.topic === 'set/result').length;
      let n = results();
      await sub.client.publishAsync('set/calibration', '0,0;960,0;960,540;0,540|0,0;96,0;96,54;0,54');
      await sub.waitFor((m) => m.filter((x) => x.topic === 'set/result').length > n);
      const calibrated = sub.messages.filter((m) => m.topic === 'line/middle').length;
      await sub.waitFor(
        (m) =>
          m
            .filter((x) => x.topic === 'line/middle')
            .slice(calibrated)
            .some((x) => x.json<{ speed?: number }>().speed !== undefined),
        20_000,
      );
      const speed = sub.messages
        .filter((m) => m.topic === 'line/middle')
        .slice(calibrated)
        .map((x) => x.json<{ speed?: number }>().speed)
        .find((v) => v !== undefined)!;
      assert.ok(Math.abs(speed / 43.2 - 1) < 0.15, `${speed} km/h at the line after the new calibration (43.2 expected)`);
      // A mask over the whole frame: nothing reaches the line any more.
      n = results();
      await sub.client.publishAsync('set/masks', 'all:0,0;960,0;960,540;0,540');
      await sub.waitFor((m) => m.filter((x) => x.topic === 'set/result').length > n);
      await sleep(2000);
      const masked = sub.messages.filter((m) => m.topic === 'line/middle').length;
      await sleep(8000);
      assert.equal(sub.messages.filter((m) => m.topic === 'line/middle').length, masked, 'no crossing under a mask');
      await sub.client.publishAsync('set/masks', '');

      // The same settings again: the saved line is still there, and counting.
      await stop(run);
      sub.messages.length = 0;
      run = edgecam([], env());
      await until(() => run.lines().some((l) => l.msg?.toString().startsWith('saved shapes override the env file')), 30_000, 'the saved shapes at start');
      await sub.waitFor((m) => m.some((x) => x.topic === 'line/middle'), 30_000);
      // check-config and `edgecam shapes` say where the line comes from.
      const check = spawnSync(process.execPath, [CLI, 'check-config'], { env: { PATH: process.env.PATH!, ...env() }, encoding: 'utf8' });
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stderr, /^edgecam: LINES: saved \S+ in .*shapes\.json$/m);
      const origins = spawnSync(process.execPath, [CLI, 'shapes'], { env: { PATH: process.env.PATH!, ...env() }, encoding: 'utf8' });
      assert.equal((JSON.parse(origins.stdout) as { settings: { LINES: string } }).settings.LINES, LINE);

      // Every crossing message carries its own event id, the same on a redelivery and never on another crossing.
      const ids = sub.messages.filter((m) => m.topic === 'line/middle').map((m) => linePayload.parse(m.json()).event_id);
      assert.equal(new Set(ids).size, ids.length, 'event ids are unique');

      // set/shapes reset: the env file (no lines) applies again; the retained totals are cleared.
      await sub.client.publishAsync('set/shapes', 'reset');
      await sub.waitFor((m) => m.some((x) => x.topic === 'set/result' && x.json<{ setting: string }>().setting === 'shapes'));
      await sub.waitFor((m) => m.some((x) => x.topic === 'line/middle/totals' && x.payload === ''));
      assert.ok(!existsSync(join(state, 'shapes.json')));
    } finally {
      await stop(run);
      await sub.close();
    }
  });

  test('HTTP save: 401 without the token; cross-site or form-encoded requests refused; the page origin with JSON saves', async () => {
    const token = 'shape-token-7f2';
    const run = edgecam([], { ...env(), HTTP_TOKEN: token, HTTP_BIND: '127.0.0.1', VIEWER_ENABLED: 'true' });
    try {
      const base = await httpBase(run);
      await until(() => run.lines().some((l) => l.msg === 'source opened'), 30_000, 'frames');
      const put = (headers: Record<string, string>, body: string) => fetch(`${base}/api/shapes`, { method: 'PUT', headers, body });
      const json = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
      const body = JSON.stringify({ LINES: LINE });
      assert.equal((await put({ 'Content-Type': 'application/json' }, body)).status, 401);
      assert.equal((await put({ ...json, Origin: 'http://evil.example' }, body)).status, 403);
      assert.equal((await put({ ...json, 'Sec-Fetch-Site': 'cross-site' }, body)).status, 403);
      assert.equal((await put({ ...json, 'Content-Type': 'application/x-www-form-urlencoded' }, `LINES=${encodeURIComponent(LINE)}`)).status, 403);
      assert.equal((await put({ ...json, 'Content-Type': 'text/plain' }, body)).status, 403);
      assert.equal((await fetch(`${base}/api/shapes`, { method: 'POST', headers: json, body })).status, 405);
      assert.ok(!existsSync(join(state, 'shapes.json')), 'nothing saved by a refused request');
      const bad = await put({ ...json, Origin: base }, JSON.stringify({ ZONES: 'z:1,1;2,2' }));
      assert.equal(bad.status, 422);
      assert.match(((await bad.json()) as { errors: { zones: string } }).errors.zones, /at least 3/);
      const good = await put({ ...json, Origin: base, 'Sec-Fetch-Site': 'same-origin' }, body);
      assert.equal(good.status, 200, await good.clone().text());
      assert.deepEqual(
        ((await good.json()) as { shapes: { lines: { name: string }[] } }).shapes.lines.map((l) => l.name),
        ['middle'],
      );
      // From the shell, for the next start.
      const reset = spawnSync(process.execPath, [CLI, 'shapes', '--reset'], { env: { PATH: process.env.PATH!, ...env() }, encoding: 'utf8' });
      assert.equal(reset.status, 0, reset.stderr);
      assert.match(reset.stderr, /removed .*shapes\.json; the env file's apply from the agent's next start/);
      assert.ok(!existsSync(join(state, 'shapes.json')));
      assert.equal((await put({ ...json, Origin: base }, body)).status, 200);
      const del = await fetch(`${base}/api/shapes`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}`, Origin: base } });
      assert.equal(del.status, 200);
      assert.ok(!existsSync(join(state, 'shapes.json')));
    } finally {
      await stop(run);
    }
  });
});
