import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameTransform, toSourceBox } from '../../agent/frames/frame.js';
import { nms } from '../../agent/detect/nms.js';
import { iou } from '../../agent/frames/frame.js';
import { Backoff } from '../../agent/backoff.js';
import { redactUrl } from '../../agent/log.js';
import { memoryLogger } from '../helpers/log.js';

test('letterbox transform: 1280x720 into 640x640 scales by 0.5 and pads 140 px top and bottom', () => {
  const t = frameTransform('letterbox', 1280, 720, 640, 640);
  assert.deepEqual(t, { scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 140 });
  assert.deepEqual(toSourceBox([100, 200, 300, 400], t, 1280, 720), [200, 120, 600, 520]);
  assert.deepEqual(toSourceBox([-10, 100, 700, 600], t, 1280, 720), [0, 0, 1280, 720], 'clamped to the frame');
});

test('letterbox transform for a portrait source pads the sides', () => {
  const t = frameTransform('letterbox', 480, 640, 512, 512);
  assert.equal(t.scaleY, 0.8);
  assert.equal(t.padX, 64);
  assert.equal(t.padY, 0);
});

test('stretch transform scales each axis alone', () => {
  const t = frameTransform('stretch', 960, 540, 512, 512);
  assert.deepEqual(toSourceBox([256, 256, 512, 512], t, 960, 540), [480, 270, 960, 540]);
});

test('nms keeps the best of overlapping boxes, per class or across classes', () => {
  const a = { classId: 0, score: 0.9, box: [0, 0, 10, 10] as [number, number, number, number] };
  const b = { classId: 0, score: 0.8, box: [1, 1, 11, 11] as [number, number, number, number] };
  const c = { classId: 1, score: 0.7, box: [1, 0, 11, 10] as [number, number, number, number] };
  const d = { classId: 0, score: 0.6, box: [50, 50, 60, 60] as [number, number, number, number] };
  assert.ok(iou(a.box, b.box) > 0.6);
  assert.deepEqual(nms([d, c, b, a], 0.4, true), [a, d]);
  assert.deepEqual(nms([d, c, b, a], 0.4, false), [a, c, d]);
});

test('backoff grows exponentially with jitter, is capped, and resets', () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 8000, random: () => 1 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [1000, 2000, 4000, 8000, 8000]);
  b.reset();
  assert.equal(b.next(), 1000);
  const low = new Backoff({ initialMs: 1000, maxMs: 8000, random: () => 0 });
  assert.equal(low.next(), 500, 'jitter reaches down to half the delay');
});

test('credentials inside URLs never reach a log line', () => {
  assert.equal(redactUrl('rtsp://admin:pw@10.0.0.2:554/s'), 'rtsp://<redacted>@10.0.0.2:554/s');
  const { log, text } = memoryLogger();
  log.warn({ reason: "Input #0, rtsp, from 'rtsp://admin:hunter2@cam/live'", password: 'p4ss' }, 'ffmpeg said rtsp://u:hunter2@cam');
  log.error(new Error('connect failed for mqtt://user:hunter2@broker'));
  assert.doesNotMatch(text(), /hunter2|p4ss/);
  assert.match(text(), /<redacted>/);
});

test('credentials are redacted at every depth of a structured log call, inside arrays, and up to the last @ of a password', () => {
  assert.equal(redactUrl('rtsp://u:Pa55@word@host:554/s'), 'rtsp://<redacted>@host:554/s');
  const { log, text } = memoryLogger();
  const url = 'rtsp://admin:hunter2@cam/live';
  log.info({ a: { b: { c: { d: { e: url } } } }, list: [url, { nested: [url] }], tail: ['ok', [[url]]] }, 'deep');
  log.info({ MQTT_PASSWORD: 's3cret-mqtt', HTTP_TOKEN: 's3cret-token', config: { MQTT_PASSWORD: 's3cret-mqtt2', HTTP_TOKEN: 's3cret-token2' } }, 'settings');
  log.warn({ err: new Error(`cannot open rtsp://u:Pa55@word@host/s`) }, 'nested error');
  assert.doesNotMatch(text(), /hunter2|s3cret|Pa55|word@/);
  assert.equal(text().match(/<redacted>@cam/g)?.length, 4, 'every copy of the URL is still there, redacted');
});
