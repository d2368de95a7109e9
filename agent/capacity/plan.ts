// How many cameras a box takes, from what `edgecam capacity` measured on it. Each camera
// runs as its own systemd instance with one inference thread (DETECT_THREADS=0 shares the
// cores out), so the box's rate is that of one single-threaded detector per core, all
// inferring at once: the rate the cores keep when every one of them is busy.

/** The share of the cores planned for: the rest absorbs bursts, so frames are not dropped when inferences bunch up (`npm run bench:cameras -- --instances`, docs/performance.md). */
export const HEADROOM = 0.85;
/**
 * The agent's own work per inference (reading frames, tracking, publishing, the broker),
 * as a fraction of the inference's CPU: eight instances on two cores spent 20.7 % of a core
 * on their main threads beside 142 % inferring (`npm run bench:cameras -- --instances 8`).
 */
export const AGENT_OVERHEAD = 0.15;

export interface ModelMeasurement {
  model: string;
  /** The model's input, WIDTHxHEIGHT. */
  input: string;
  /** Inferences a second with one detector per core, all at once (the box full). */
  boxRate: number;
  /** Inferences a second of one detector alone with the configured threads, and its time per inference. */
  aloneRate: number;
  aloneMs: number;
}

export interface CapacityInput {
  cores: number;
  fps: number;
  /** Cores that decoding SOURCE for one camera takes (FFmpeg), when a source was measured. */
  decodeCores?: number;
  models: ModelMeasurement[];
}

export interface ModelPlan extends ModelMeasurement {
  /** Cores one camera takes at `fps`: inference, the agent's share, decoding. */
  perCamera: number;
  cameras: number;
  /** The highest DETECT_FPS one camera alone can be given. */
  maxFpsAlone: number;
}

export function capacityPlan(input: CapacityInput): ModelPlan[] {
  return input.models.map((m) => {
    const inference = m.boxRate > 0 ? (input.fps * input.cores) / m.boxRate : Infinity;
    const perCamera = inference * (1 + AGENT_OVERHEAD) + (input.decodeCores ?? 0);
    return {
      ...m,
      perCamera,
      cameras: Math.max(0, Math.floor((input.cores * HEADROOM) / perCamera + 1e-9)),
      maxFpsAlone: Math.floor(m.aloneRate * HEADROOM),
    };
  });
}

/** The plan as a person reads it. */
export function capacityReport(input: CapacityInput, plans: ModelPlan[], labels: { threads: number; source?: string }): string {
  const lines = [
    `This box: ${input.cores} cores; DETECT_FPS=${input.fps}.`,
    input.decodeCores === undefined
      ? 'Decoding is not counted: set SOURCE to your camera to measure its cost too.'
      : `Decoding ${labels.source}: ${(input.decodeCores * 100).toFixed(1)} % of a core per camera.`,
    '',
    '| model | one camera alone (' +
      `${labels.threads} thread${labels.threads === 1 ? '' : 's'}) | box full (one thread per core) | cores per camera | cameras at DETECT_FPS=${input.fps} |`,
    '| --- | --- | --- | --- | --- |',
    ...plans.map(
      (p) =>
        `| ${p.model} at ${p.input} | ${p.aloneRate.toFixed(1)} inferences/s (${p.aloneMs.toFixed(1)} ms each), up to DETECT_FPS=${p.maxFpsAlone} | ${p.boxRate.toFixed(1)} inferences/s | ${p.perCamera.toFixed(2)} | ${p.cameras} |`,
    ),
    '',
    `Cameras are counted on busy scenes (every frame inferred), within ${HEADROOM * 100} % of the cores; motion gating makes a still scene nearly free.`,
  ];
  return lines.join('\n');
}
