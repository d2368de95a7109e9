// The decoder contract: model outputs in, candidate boxes in model-input pixels out.

export interface OutputTensor {
  readonly dims: readonly number[];
  readonly data: ArrayLike<number | bigint>;
}

/** Outputs by name, in the session's output order. */
export type Outputs = ReadonlyMap<string, OutputTensor>;

export interface Candidate {
  classId: number;
  score: number;
  /** x1, y1, x2, y2 in model-input pixels. */
  box: [number, number, number, number];
}

export interface DecodeContext {
  inputWidth: number;
  inputHeight: number;
  scoreThreshold: number;
}

export interface Decoder {
  /** True when the output shapes look like this decoder's layout (used when no decoder is configured). */
  matches(outputs: Outputs): boolean;
  decode(outputs: Outputs, ctx: DecodeContext): Candidate[];
}

export const num = (v: number | bigint | undefined): number => Number(v ?? 0);
export const first = (outputs: Outputs): OutputTensor => outputs.values().next().value as OutputTensor;
