// Builds tiny ONNX models in tests: an image input and constant outputs in a given
// layout, so decoders can be checked end to end through a real onnxruntime session.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface ConstantOutput {
  name: string;
  dims: number[];
  data: number[];
}

/** A graph input or output: a tensor of `type` (an ONNX data type) and fixed `dims`. */
export function valueInfo(name: string, type: number, dims: number[]): onnxProto.onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: type,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }),
      }),
    }),
  });
}

export function constantOutputModel(input: { name: string; dims: number[]; type?: 'float32' | 'uint8' }, outputs: ConstantOutput[]): Uint8Array {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const elemType = input.type === 'uint8' ? onnx.TensorProto.DataType.UINT8 : FLOAT;
  const nodes = outputs.map((o) =>
    onnx.NodeProto.create({
      opType: 'Constant',
      output: [o.name],
      name: `${o.name}_const`,
      attribute: [
        onnx.AttributeProto.create({
          name: 'value',
          type: onnx.AttributeProto.AttributeType.TENSOR,
          t: onnx.TensorProto.create({ dims: o.dims, dataType: FLOAT, floatData: o.data }),
        }),
      ],
    }),
  );
  const graph = onnx.GraphProto.create({
    name: 'constant-outputs',
    node: nodes,
    input: [valueInfo(input.name, elemType, input.dims)],
    output: outputs.map((o) => valueInfo(o.name, FLOAT, o.dims)),
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'edgecam tests', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 18 })], graph });
  return onnx.ModelProto.encode(model).finish();
}

/** Deterministic values in [-1, 1): a linear congruential sequence from `seed`. */
export function seededValues(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  });
}

/** A float32 initializer. */
export function floatInit(name: string, dims: number[], data: Float32Array | number[]): onnxProto.onnx.TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(Float32Array.from(data).buffer) });
}

/** A node named after its one output. */
export function namedNode(opType: string, input: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []): onnxProto.onnx.NodeProto {
  return onnx.NodeProto.create({ opType, input, output: [output], name: output, attribute });
}

/** A hard swish as the TF export writes it, out = (x · 1/6) · relu6(x + 3): its constants and nodes (one per graph: the constants' names are fixed). */
export function hardSwish(x: string, out: string): { initializer: onnxProto.onnx.TensorProto[]; node: onnxProto.onnx.NodeProto[] } {
  return {
    initializer: [floatInit('sixth', [], [1 / 6]), floatInit('three', [], [3]), floatInit('zero', [], [0]), floatInit('six', [], [6])],
    node: [
      namedNode('Mul', [x, 'sixth'], `${x}_sixth`),
      namedNode('Add', [x, 'three'], `${x}_plus3`),
      namedNode('Clip', [`${x}_plus3`, 'zero', 'six'], `${x}_relu6`),
      namedNode('Mul', [`${x}_sixth`, `${x}_relu6`], out),
    ],
  };
}
