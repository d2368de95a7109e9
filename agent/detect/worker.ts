// The onnxruntime session in a worker thread: inference blocks the thread that runs
// it for tens of milliseconds, and the main thread must keep reading frames from
// FFmpeg, answering the broker and serving the viewer meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

interface Init {
  modelPath: string;
  options: ort.InferenceSession.SessionOptions;
}
export type WorkerRequest = { id: number; input: string; type: 'float32' | 'uint8'; dims: number[]; data: Float32Array | Uint8Array };
export type WorkerReply =
  | { id: number; outputs: { name: string; dims: number[]; data: ArrayLike<number> }[]; data: Float32Array | Uint8Array; ms: number }
  | { id: number; error: string; data: Float32Array | Uint8Array };

const { modelPath, options } = workerData as Init;
const port = parentPort!;
// Test hook: a slow (or, with a long delay, hung) model, which no real model here is on
// demand. It blocks this thread as a slow inference does. Never set in production.
const testDelayMs = Number(process.env.EDGECAM_TEST_DETECT_DELAY_MS) || 0;
const stall = new Int32Array(new SharedArrayBuffer(4));

try {
  const session = await ort.InferenceSession.create(modelPath, options);
  port.postMessage({ ready: true, inputMetadata: session.inputMetadata.map((m) => ({ ...m })) });
  const handle = async (req: WorkerRequest | 'release') => {
    if (req === 'release') {
      // The session is going away with the thread: a failure to release it changes nothing.
      await session.release().catch(() => {});
      port.close();
      return;
    }
    try {
      const started = performance.now();
      const result = await session.run({ [req.input]: new ort.Tensor(req.type, req.data, req.dims) });
      if (testDelayMs) Atomics.wait(stall, 0, 0, testDelayMs);
      const outputs = session.outputNames.map((name) => {
        const t = result[name]!;
        return { name, dims: [...t.dims], data: t.data as Float32Array };
      });
      const reply: WorkerReply = { id: req.id, outputs, data: req.data, ms: performance.now() - started };
      // The input buffer goes back for reuse (moved, not copied); outputs are small and copied.
      port.postMessage(reply, [req.data.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ id: req.id, error: (err as Error).message, data: req.data } satisfies WorkerReply, [req.data.buffer as ArrayBuffer]);
    }
  };
  port.on('message', (req: WorkerRequest | 'release') => void handle(req));
} catch (err) {
  port.postMessage({ ready: false, error: (err as Error).message.split('\n')[0] });
}
