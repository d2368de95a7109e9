import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../agent/mqtt/outbox.js';

const dir = () => mkdtempSync(join(tmpdir(), 'edgecam-outbox-'));

test('unacknowledged messages survive a restart, in order; acknowledged ones do not come back', () => {
  const d = dir();
  const a = new Outbox({ dir: d, maxMessages: 100, maxBytes: 1e6 });
  assert.equal(a.open().restored, 0);
  for (let i = 1; i <= 5; i++) a.add('class', `{"n":${i}}`, 1);
  a.ack(1);
  a.ack(3); // out of order: the cursor stays after 1 until 2 is acknowledged
  a.flush();
  const b = new Outbox({ dir: d, maxMessages: 100, maxBytes: 1e6 });
  assert.equal(b.open().restored, 4, 'message 3 is resent: at least once, never lost');
  assert.deepEqual(
    b.peek(10).map((m) => m.payload),
    ['{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}'],
  );
  const next = b.add('class', '{"n":6}', 1);
  assert.equal(next.seq, 6, 'sequence numbers continue');
  b.ack(2);
  b.ack(3);
  b.flush();
  const c = new Outbox({ dir: d, maxMessages: 100, maxBytes: 1e6 });
  c.open();
  assert.deepEqual(
    c.peek(10).map((m) => m.seq),
    [4, 5, 6],
  );
});

test('a torn last line from a crash mid-write is skipped', () => {
  const d = dir();
  const a = new Outbox({ dir: d, maxMessages: 100, maxBytes: 1e6 });
  a.open();
  a.add('class', '{"n":1}', 1);
  appendFileSync(join(d, 'outbox.jsonl'), '{"seq":2,"topic":"cla');
  const b = new Outbox({ dir: d, maxMessages: 100, maxBytes: 1e6 });
  assert.equal(b.open().restored, 1);
});

test('bounded: when full, the oldest are dropped and counted', () => {
  const drops: number[] = [];
  const box = new Outbox({ maxMessages: 3, maxBytes: 1e6, onDrop: (n) => drops.push(n) });
  for (let i = 1; i <= 5; i++) box.add('t', String(i), 1);
  assert.deepEqual(
    box.peek(10).map((m) => m.payload),
    ['3', '4', '5'],
  );
  assert.equal(box.dropped, 2);
  assert.deepEqual(drops, [1, 1]);
  const bytes = new Outbox({ maxMessages: 1000, maxBytes: 200, onDrop: () => {} });
  for (let i = 0; i < 10; i++) bytes.add('t', 'x'.repeat(50), 1);
  assert.ok(bytes.sizeBytes <= 200 && bytes.size === 2, `${bytes.size} messages, ${bytes.sizeBytes} bytes`);
});

test('the log is compacted once its acknowledged prefix is large', async () => {
  const d = dir();
  const box = new Outbox({ dir: d, maxMessages: 10_000, maxBytes: 1e8 });
  box.open();
  for (let i = 0; i < 2500; i++) box.ack(box.add('t', String(i), 1).seq);
  box.add('t', 'last', 1);
  await new Promise((r) => setTimeout(r, 1200));
  const lines = readFileSync(join(d, 'outbox.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).payload),
    ['last'],
  );
});

test('a damaged log: every record is validated, bad ones are skipped and counted, sequence numbers stay numbers', () => {
  const d = dir();
  const good = (seq: number) => JSON.stringify({ seq, topic: 'class', payload: `{"n":${seq}}`, qos: 1 });
  appendFileSync(
    join(d, 'outbox.jsonl'),
    [
      good(1),
      'null',
      '{}',
      '{"seq":"x","topic":"class","payload":"{}","qos":1}',
      '{"seq":3,"payload":"no topic","qos":1}',
      '\u0000\u00ff garbage',
      good(2),
      '{"seq":4,"topic":"cl',
    ].join('\n'),
  );
  const box = new Outbox({ dir: d, maxMessages: 100, maxBytes: 1e6 });
  assert.deepEqual(box.open(), { restored: 2, skipped: 6 });
  assert.deepEqual(
    box.peek(10).map((m) => m.seq),
    [1, 2],
  );
  const next = box.add('class', '{"n":3}', 1);
  assert.equal(next.seq, 3);
  // The damaged records are gone from the rewritten log.
  assert.equal(readFileSync(join(d, 'outbox.jsonl'), 'utf8').trim().split('\n').length, 3);
});

test('a log that cannot be read is set aside as *.corrupt and a new one is started; a junk cursor counts as none', () => {
  const d = dir();
  mkdirSync(join(d, 'outbox.jsonl')); // reading a directory fails as a damaged disk would
  writeFileSync(join(d, 'outbox.ack'), 'NaN-ish');
  const box = new Outbox({ dir: d, maxMessages: 100, maxBytes: 1e6 });
  const opened = box.open();
  assert.equal(opened.restored, 0);
  assert.match(opened.corrupt ?? '', /outbox\.jsonl\.\d+\.corrupt$/);
  assert.equal(box.add('class', '{}', 1).seq, 1);
  box.flush();
  assert.equal(readFileSync(join(d, 'outbox.jsonl'), 'utf8').trim().split('\n').length, 1);
});
