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
  /** The id of the first class in the model's output, from the manifest; the decoder's own default otherwise. */
  classIdBase?: 0 | 1;
}

export interface Decoder {
  /** Labels to use when none are configured, for decoders whose models number classes their own way. */
  readonly defaultLabels?: string;
  /** True when the output shapes look like this decoder's layout (used when no decoder is configured). */
  matches(outputs: Outputs): boolean;
  decode(outputs: Outputs, ctx: DecodeContext): Candidate[];
}

export const num = (v: number | bigint | undefined): number => Number(v ?? 0);
export const first = (outputs: Outputs): OutputTensor => outputs.values().next().value as OutputTensor;
