// The INT8 model is the default because, on everything a user sees, it does what the float
// model does: the same real footage and photos through both (scripts/user-level.ts:
// Debian opencv-doc's pedestrian CCTV against test/truth/vtest.json, the real dual
// carriageway of ../shared/clips against test/truth/dual-carriageway.json, the bundled
// sample's speeds), and the test fails where FP32 is within the truth's tolerance and INT8
// is not. The photos are checked with each model by test/e2e/agent.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { BUNDLED_MODEL, BUNDLED_MODELS } from '../../agent/paths.js';
import { TRAFFIC, userLevel, VTEST } from '../../scripts/user-level.js';
import { needs } from '../helpers/net.js';

test(
  'INT8 against FP32 on what users see: counts, tracks per person, static and parked objects, speeds',
  {
    skip: needs('ffmpeg') || (!existsSync(VTEST) && 'apt-get install opencv-doc') || (!existsSync(TRAFFIC) && `${TRAFFIC} is missing (../shared/clips)`),
    timeout: 300_000,
  },
  async (t) => {
    const fp32 = await userLevel('centernet-fp32');
    const int8 = await userLevel('centernet-int8');
    for (const [i, f] of fp32.entries()) t.diagnostic(`${f.check}: FP32 ${f.value}${f.ok ? '' : ' (outside)'}; INT8 ${int8[i]!.value}${int8[i]!.ok ? '' : ' (outside)'}`);
    const worse = int8.filter((o, i) => fp32[i]!.ok && !o.ok);
    assert.deepEqual(
      worse.map((o) => `${o.check}: ${o.value}`),
      [],
      'INT8 falls outside the truth where FP32 is inside it',
    );
    // The checks have teeth: the float model meets them, so a worse INT8 model shows.
    assert.ok(fp32.filter((o) => o.ok).length >= fp32.length - 1, 'FP32 within the truth on all checks but one at most');
    assert.equal(BUNDLED_MODEL, BUNDLED_MODELS['centernet-int8'], 'the default model is the INT8 one');
  },
);
