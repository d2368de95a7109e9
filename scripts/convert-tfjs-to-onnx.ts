// Usage: node dist/scripts/convert-tfjs-to-onnx.js MODEL.json OUT.onnx [--outputs a,b]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { convert, loadTfjsModel } from './tfjs-to-onnx.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { outputs: { type: 'string' } } });
if (positionals.length !== 2) {
  console.error('usage: convert-tfjs-to-onnx MODEL.json OUT.onnx [--outputs tensor1,tensor2]');
  process.exit(64);
}
const [input, output] = positionals as [string, string];
try {
  const { model, constants } = loadTfjsModel(input);
  const bytes = convert(model, constants, { outputs: values.outputs?.split(',') });
  writeFileSync(output, bytes);
  console.log(`${output}: ${bytes.length} bytes`);
} catch (err) {
  console.error(`convert-tfjs-to-onnx: ${(err as Error).message}`);
  process.exit(1);
}
