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
