// CALIBRATION_IMAGE_POINTS and CALIBRATION_WORLD_POINTS, checked together and parsed:
// the four points must make a homography that does not fold the ground plane over.
import { CalibrationError, homographyFromPoints, parsePoints, type Point } from '../track/homography.js';
import type { RawConfig } from './schema.js';

export function resolveCalibration(raw: RawConfig, problems: string[]): { CALIBRATION_IMAGE_POINTS?: Point[]; CALIBRATION_WORLD_POINTS?: Point[] } {
  const example = 'CALIBRATION_IMAGE_POINTS="412,710;1505,705;1130,380;790,382" CALIBRATION_WORLD_POINTS="0,0;7,0;7,30;0,30"';
  const { CALIBRATION_IMAGE_POINTS: img, CALIBRATION_WORLD_POINTS: world, METERS_PER_PIXEL: mpp } = raw;
  if (!img && !world) return {};
  if (!img || !world) {
    problems.push(`${img ? 'CALIBRATION_WORLD_POINTS' : 'CALIBRATION_IMAGE_POINTS'}: missing; the four image points and the four world points go together (example: ${example})`);
    return {};
  }
  if (mpp !== undefined) problems.push('METERS_PER_PIXEL: set together with calibration points; use one or the other');
  const image = parsePoints(img);
  const ground = parsePoints(world);
  if (typeof image === 'string') problems.push(`CALIBRATION_IMAGE_POINTS=${JSON.stringify(img)}: ${image} (example: ${example})`);
  if (typeof ground === 'string') problems.push(`CALIBRATION_WORLD_POINTS=${JSON.stringify(world)}: ${ground} (example: ${example})`);
  if (typeof image === 'string' || typeof ground === 'string') return {};
  try {
    homographyFromPoints(image, ground);
  } catch (err) {
    if (!(err instanceof CalibrationError)) throw err;
    problems.push(`calibration: ${err.message}`);
  }
  return { CALIBRATION_IMAGE_POINTS: image, CALIBRATION_WORLD_POINTS: ground };
}
