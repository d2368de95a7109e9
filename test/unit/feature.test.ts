// The feature lifecycle: start in order, stop in reverse, a failed start undoes what
// started, and a listener that throws cannot stop the others or the pipeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../agent/bus.js';
import { Controller, type Feature } from '../../agent/feature.js';
import { memoryLogger } from '../helpers/log.js';

function recorder() {
  const calls: string[] = [];
  const feature = (name: string, options: { failStart?: boolean; failStop?: boolean } = {}): Feature => ({
    name,
    start: async () => {
      await new Promise((r) => setImmediate(r));
      calls.push(`start ${name}`);
      if (options.failStart) throw new Error(`${name} cannot start`);
    },
    stop: () => {
      calls.push(`stop ${name}`);
      if (options.failStop) throw new Error(`${name} cannot stop`);
    },
  });
  return { calls, feature };
}

test('features start in list order and stop in reverse; undefined entries (features the config leaves off) are skipped', async () => {
  const { calls, feature } = recorder();
  const controller = new Controller(memoryLogger().log);
  await controller.start([feature('a'), undefined, feature('b'), feature('c')]);
  assert.deepEqual(controller.names, ['a', 'b', 'c']);
  assert.equal(await controller.stop(), true);
  assert.deepEqual(calls, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  assert.equal(await controller.stop(), true, 'a second stop does nothing');
  assert.equal(calls.length, 6);
});

test('a feature that fails to start stops the ones already started, in reverse, and the failure is rethrown', async () => {
  const { calls, feature } = recorder();
  const controller = new Controller(memoryLogger().log);
  await assert.rejects(controller.start([feature('a'), feature('b'), feature('c', { failStart: true }), feature('d')]), /c cannot start/);
  assert.deepEqual(calls, ['start a', 'start b', 'start c', 'stop b', 'stop a']);
});

test('a feature that fails to stop is logged, the others still stop, and stop() says it failed', async () => {
  const { calls, feature } = recorder();
  const { log, lines } = memoryLogger();
  const controller = new Controller(log);
  await controller.start([feature('a'), feature('b', { failStop: true }), feature('c')]);
  assert.equal(await controller.stop(), false);
  assert.deepEqual(calls.slice(3), ['stop c', 'stop b', 'stop a']);
  assert.ok(lines().some((l) => l.msg === 'failed to stop' && l.feature === 'b'));
});

test('a listener that throws is logged with its feature; the other listeners and later events still run', () => {
  const { log, lines } = memoryLogger();
  const bus = new EventBus(log);
  const seen: number[] = [];
  bus.on('status', () => seen.push(1), 'first');
  bus.on(
    'status',
    () => {
      throw new Error('broken feature');
    },
    'broken',
  );
  bus.on('status', () => seen.push(3), 'third');
  bus.emit('status', { component: 'camera', state: 'streaming' });
  bus.emit('status', { component: 'camera', state: 'reconnecting' });
  assert.deepEqual(seen, [1, 3, 1, 3]);
  const failures = lines().filter((l) => l.msg === 'event listener failed');
  assert.equal(failures.length, 2);
  assert.equal(failures[0]!.feature, 'broken');
});

test('stopping a feature removes its listeners from the bus, and only its own', async () => {
  const { log } = memoryLogger();
  const bus = new EventBus(log);
  const seen: string[] = [];
  const listening = (name: string): Feature => ({
    name,
    start: () => void bus.on('status', (s) => seen.push(`${name}:${s.state}`), name),
    stop: () => {},
  });
  const first = new Controller(log, bus);
  const second = new Controller(log, bus);
  await first.start([listening('a')]);
  await second.start([listening('b')]);
  bus.emit('status', { component: 'camera', state: 'one' });
  await first.stop();
  bus.emit('status', { component: 'camera', state: 'two' });
  assert.deepEqual(seen, ['a:one', 'b:one', 'b:two']);
});

test('a feature whose start fails leaves no listener behind', async () => {
  const { log } = memoryLogger();
  const bus = new EventBus(log);
  let calls = 0;
  const controller = new Controller(log, bus);
  const half: Feature = {
    name: 'half',
    start: () => {
      bus.on('status', () => calls++, 'half');
      throw new Error('half started');
    },
    stop: () => {},
  };
  await assert.rejects(controller.start([half]), /half started/);
  bus.emit('status', { component: 'camera', state: 'streaming' });
  assert.equal(calls, 0);
});
