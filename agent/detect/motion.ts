// Motion gate: a cheap motion measure on a small grayscale copy of the frame, so that
// inference is skipped while nothing moves. A running-average background (as Frigate
// keeps) absorbs slow light changes; a cell counts as moving when it differs from the
// background by more than `pixelDelta` grey levels. Inference is forced at least every
// `maxSkipSeconds` of source time, so objects that stopped moving are still reported.
import type { Frame } from '../frames/frame.js';

export interface MotionGateOptions {
  /** Fraction of cells that must move, 0..1. */
  threshold: number;
  maxSkipSeconds: number;
  /** Grey levels (0..255) a cell must differ from the background by. */
  pixelDelta?: number;
  /** Background adaptation per frame, 0..1. */
  alpha?: number;
}

const GRID = 64;
const BLOCK = 4;

export interface MotionResult {
  run: boolean;
  /** Fraction of cells that moved. */
  moving: number;
  reason: 'motion' | 'forced' | 'first' | 'still';
}

export class MotionGate {
  private background: Float32Array | undefined;
  private readonly cells = new Float32Array(GRID * GRID);
  private lastRunPts = -Infinity;
  readonly stats = { checked: 0, skipped: 0 };

  constructor(private readonly options: MotionGateOptions) {}

  check(frame: Frame): MotionResult {
    this.stats.checked++;
    this.measure(frame);
    const background = this.background;
    const alpha = this.options.alpha ?? 0.2;
    const delta = this.options.pixelDelta ?? 20;
    if (!background) {
      this.background = Float32Array.from(this.cells);
      this.lastRunPts = frame.pts;
      return { run: true, moving: 1, reason: 'first' };
    }
    let moving = 0;
    for (let i = 0; i < this.cells.length; i++) {
      const v = this.cells[i]!;
      if (Math.abs(v - background[i]!) > delta) moving++;
      background[i] = background[i]! + alpha * (v - background[i]!);
    }
    const fraction = moving / this.cells.length;
    let reason: MotionResult['reason'] = 'still';
    if (fraction >= this.options.threshold) reason = 'motion';
    else if (frame.pts - this.lastRunPts >= this.options.maxSkipSeconds) reason = 'forced';
    const run = reason !== 'still';
    if (run) this.lastRunPts = frame.pts;
    else this.stats.skipped++;
    return { run, moving: fraction, reason };
  }

  /** Mean grey level of BLOCK x BLOCK pixels at each of GRID x GRID cells. */
  private measure(frame: Frame): void {
    const { data, width, height } = frame;
    const stepX = width / GRID;
    const stepY = height / GRID;
    for (let gy = 0; gy < GRID; gy++) {
      const y0 = Math.floor(gy * stepY + stepY / 2 - BLOCK / 2);
      for (let gx = 0; gx < GRID; gx++) {
        const x0 = Math.floor(gx * stepX + stepX / 2 - BLOCK / 2);
        let sum = 0;
        for (let y = y0; y < y0 + BLOCK; y++) {
          let o = (y * width + x0) * 3;
          for (let x = 0; x < BLOCK; x++, o += 3) sum += data[o]! + 2 * data[o + 1]! + data[o + 2]!;
        }
        this.cells[gy * GRID + gx] = sum / (4 * BLOCK * BLOCK);
      }
    }
    void height;
  }
}
