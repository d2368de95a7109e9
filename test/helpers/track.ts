// The track stage the tracker tests share: the agent's thresholds and confirmation, speeds in m/s.
import { TrackStage, type Calibration } from '../../agent/track/index.js';
import { memoryLogger } from './log.js';

export function trackStage(calibration: Calibration = { metersPerPixel: 0.05 }, over: Partial<ConstructorParameters<typeof TrackStage>[0]> = {}) {
  return new TrackStage({
    calibration,
    scoreThreshold: 0.3,
    lowScore: 0.1,
    lostSeconds: 1.5,
    speedClasses: ['car', 'person'],
    unit: 'mps',
    window: 1,
    minAge: 0.5,
    minSamples: 4,
    publishInterval: 0.5,
    log: memoryLogger().log,
    ...over,
  });
}
