// FFmpeg's frames come through a named pipe that the agent reads with a socket in
// "onread" mode: every read lands in one reused buffer, so no memory is allocated per
// chunk (a child's stdout pipe allocates a new 64 KB buffer for each read, hundreds of
// megabytes a minute at full speed, all of it for the garbage collector).
//
// The agent holds a write end of its own while FFmpeg runs, and closes it when FFmpeg
// has exited: the reader then sees end-of-file once every byte is read, whether FFmpeg
// opened the pipe or failed before it could.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { ownTempDir } from '../pids.js';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { join } from 'node:path';

const READ_SIZE = 256 * 1024;
const PREFIX = 'edgecam-frames-';

export interface FifoRead {
  /** The path FFmpeg writes to. */
  readonly path: string;
  /** Resolves at end-of-file: the writer has exited and every byte was delivered. */
  readonly ended: Promise<void>;
  pause(): void;
  resume(): void;
  /** FFmpeg has exited: end-of-file comes once the pipe is drained. */
  writerExited(): void;
  /** Stops reading now; what is left in the pipe is dropped. */
  close(): void;
}

export class FramePipe {
  private dir: string | undefined;
  private readonly scratch = Buffer.allocUnsafe(READ_SIZE);

  private constructor(readonly path: string) {}

  /**
   * A named pipe in a private temporary directory, named after this process; undefined where
   * mkfifo is unavailable. Directories left by agents that were killed before they could
   * remove theirs (SIGKILL, power loss without a tmpfs) are removed first.
   */
  static create(): FramePipe | undefined {
    if (process.platform === 'win32') return undefined;
    const dir = ownTempDir(PREFIX);
    const path = join(dir, 'frames');
    try {
      execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore', timeout: 5000 });
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
    const pipe = new FramePipe(path);
    pipe.dir = dir;
    return pipe;
  }

  /** Starts reading for one FFmpeg run: `onChunk` gets views of a reused buffer, valid until it returns or, when it pauses, until resume(). */
  open(onChunk: (chunk: Buffer, length: number) => void): FifoRead {
    // The reader first (non-blocking: no writer yet), then the agent's own writer.
    const readFd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    let keeper: number | undefined = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
    const closeKeeper = () => {
      if (keeper === undefined) return;
      closeSync(keeper);
      keeper = undefined;
    };
    // `onread` is honoured by the Socket constructor (net.connect passes it through), though typed only for connect().
    const options: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd: readFd,
      readable: true,
      writable: false,
      onread: { buffer: this.scratch, callback: (n, buf) => (onChunk(buf as Buffer, n), true) },
    };
    const socket = new Socket(options);
    const ended = new Promise<void>((resolve) => {
      socket.once('end', resolve);
      socket.once('close', resolve);
    });
    socket.on('error', () => {});
    return {
      path: this.path,
      ended,
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      writerExited: closeKeeper,
      close: () => {
        closeKeeper();
        socket.destroy();
      },
    };
  }

  remove(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
