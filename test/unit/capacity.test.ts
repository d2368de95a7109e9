// `edgecam capacity`'s arithmetic on made-up measurements: what a box takes follows from
// the rate its cores keep when all infer at once, DETECT_FPS, the agent's overhead,
// decoding and the headroom.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_OVERHEAD, capacityPlan, capacityReport, HEADROOM, type CapacityInput } from '../../agent/capacity/plan.js';

const measured = (model: string, boxRate: number, aloneRate: number) => ({ model, input: '512x512', boxRate, aloneRate, aloneMs: 1000 / aloneRate });

test('cameras: the cores within the headroom over what one camera takes', () => {
  const input: CapacityInput = { cores: 2, fps: 5, models: [measured('int8', 60, 45), measured('fp32', 30, 30)] };
  const [int8, fp32] = capacityPlan(input);
  // One camera at 5 fps: 5 inferences of 2/60 core-seconds each, plus the agent's share.
  assert.ok(Math.abs(int8!.perCamera - (5 * 2 * (1 + AGENT_OVERHEAD)) / 60) < 1e-12);
  assert.equal(int8!.cameras, Math.floor((2 * HEADROOM) / int8!.perCamera));
  assert.equal(int8!.cameras, 8, '1.7 cores / 0.192 per camera');
  assert.equal(fp32!.cameras, 4, 'half the rate, half the cameras');
  assert.equal(int8!.maxFpsAlone, Math.floor(45 * HEADROOM));
});

test('decoding is counted per camera when a source was measured', () => {
  const models = [measured('int8', 60, 45)];
  const without = capacityPlan({ cores: 2, fps: 5, models })[0]!;
  const withDecode = capacityPlan({ cores: 2, fps: 5, decodeCores: 0.05, models })[0]!;
  assert.ok(Math.abs(withDecode.perCamera - without.perCamera - 0.05) < 1e-12);
  assert.equal(withDecode.cameras, 7, '1.7 / 0.242');
  // Fewer frames a second, more cameras; a model that ran nothing takes none.
  assert.equal(capacityPlan({ cores: 2, fps: 1, models })[0]!.cameras, 44);
  assert.equal(capacityPlan({ cores: 4, fps: 5, models: [measured('broken', 0, 0)] })[0]!.cameras, 0);
});

test('the report names the box, each model and whether decoding was counted', () => {
  const input: CapacityInput = { cores: 4, fps: 5, models: [measured('centernet-int8', 120, 50)] };
  const text = capacityReport(input, capacityPlan(input), { threads: 4 });
  assert.match(text, /This box: 4 cores; DETECT_FPS=5\./);
  assert.match(text, /Decoding is not counted: set SOURCE/);
  assert.match(text, /\| centernet-int8 at 512x512 \| 50\.0 inferences\/s \(20\.0 ms each\), up to DETECT_FPS=42 \| 120\.0 inferences\/s \| 0\.19 \| 17 \|/);
  const decoded = capacityReport({ ...input, decodeCores: 0.031 }, capacityPlan({ ...input, decodeCores: 0.031 }), { threads: 4, source: 'rtsp' });
  assert.match(decoded, /Decoding rtsp: 3\.1 % of a core per camera\./);
});
