// FFmpeg input arguments per kind of source, and the hardware-decode presets.

/** What SOURCE names, as the config resolves it. */
export type SourceKind = 'file' | 'rtsp' | 'http' | 'stream' | 'v4l2' | 'lavfi' | 'rpicam';

export interface SourceSpec {
  url: string;
  kind: SourceKind;
  loop: boolean;
  /** Read a file at its native rate (-re). Live sources are always real time. */
  realtime: boolean;
  /** The decoder's threads; undefined: FFmpeg's own choice. */
  decoderThreads?: number;
}

export interface FfmpegInput {
  input: string;
  options: string[];
}

/** The source settings of a Config. */
export function sourceSpec(config: { SOURCE: string; SOURCE_KIND: SourceKind; SOURCE_LOOP: boolean; SOURCE_REALTIME: boolean }): SourceSpec {
  return { url: config.SOURCE, kind: config.SOURCE_KIND, loop: config.SOURCE_LOOP, realtime: config.SOURCE_REALTIME };
}

export function ffmpegInput(source: SourceSpec): FfmpegInput {
  const input = inputOf(source);
  if (source.decoderThreads && source.kind !== 'rpicam') input.options.unshift('-threads', String(source.decoderThreads));
  return input;
}

function inputOf(source: SourceSpec): FfmpegInput {
  switch (source.kind) {
    case 'file': {
      const options = [];
      if (source.realtime) options.push('-re');
      if (source.loop) options.push('-stream_loop', '-1');
      return { input: source.url.replace(/^file:\/\//, ''), options };
    }
    case 'lavfi':
      return { input: source.url.slice('lavfi:'.length), options: source.realtime ? ['-re', '-f', 'lavfi'] : ['-f', 'lavfi'] };
    case 'rtsp':
      // TCP: no lost packets, no smeared frames over Wi-Fi; a 10 s socket timeout turns a dead camera into an exit.
      return { input: source.url, options: ['-rtsp_transport', 'tcp', '-timeout', '10000000', '-fflags', '+genpts'] };
    case 'http':
      return { input: source.url, options: ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5', '-rw_timeout', '10000000'] };
    case 'v4l2':
      return { input: source.url, options: ['-f', 'v4l2'] };
    case 'stream':
      return { input: source.url, options: [] };
    case 'rpicam':
      // The camera tool writes to FFmpeg's standard input (capture/rpicam.ts gives the format).
      return { input: 'pipe:0', options: [] };
  }
}

/** Sources that end on their own (a file played once); the others are restarted when FFmpeg exits. */
export function isFinite(source: SourceSpec): boolean {
  return (source.kind === 'file' || source.kind === 'lavfi') && !source.loop;
}

/** FFmpeg input options of each hardware-decode preset; decoded frames come back to system memory for scaling. */
export const HWACCEL_PRESETS = {
  none: [],
  auto: ['-hwaccel', 'auto'],
  vaapi: ['-hwaccel', 'vaapi', '-hwaccel_device', '/dev/dri/renderD128'],
  qsv: ['-hwaccel', 'qsv'],
  // The Raspberry Pi's stateful H.264 decoder; most cameras send H.264.
  v4l2m2m: ['-c:v', 'h264_v4l2m2m'],
} as const satisfies Record<string, readonly string[]>;

export type HwAccel = keyof typeof HWACCEL_PRESETS;
export const HWACCEL_NAMES = Object.keys(HWACCEL_PRESETS) as [HwAccel, ...HwAccel[]];

export function hwaccelOptions(hwaccel: HwAccel): string[] {
  return [...HWACCEL_PRESETS[hwaccel]];
}
