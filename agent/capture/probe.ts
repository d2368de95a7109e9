// One frame of a source, for `edgecam detect` (still images) and `edgecam calibrate`
// (a camera probed for its size).
import { Capture, type CaptureOptions, type Frame } from './index.js';

/**
 * Runs `use` on the first frame of a source (a still image, or a camera probed for its
 * size), then stops: the frame's buffer is valid only inside `use`. Resolves with
 * undefined when no frame comes within `timeoutMs`.
 */
export async function withFirstFrame<T>(
  options: Pick<CaptureOptions, 'source' | 'width' | 'height' | 'resize' | 'ffmpegPath' | 'log' | 'sourceLabel'>,
  use: (frame: Frame) => Promise<T> | T,
  timeoutMs = 10_000,
): Promise<T | undefined> {
  const capture = new Capture({ ...options, fps: 1, lossless: true, stallTimeout: 0 });
  await capture.start();
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    const frame = await Promise.race([capture.next(), timeout]);
    clearTimeout(timer);
    return frame ? await use(frame) : undefined;
  } finally {
    await capture.stop();
  }
}
