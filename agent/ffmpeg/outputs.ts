// FFmpeg output arguments per kind of restream target.

/** Output format options for a restream target. */
export function outputOptions(url: string): string[] {
  const copy = ['-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy'];
  if (/^rtsps?:\/\//i.test(url)) return [...copy, '-f', 'rtsp', '-rtsp_transport', 'tcp'];
  if (/^rtmps?:\/\//i.test(url)) return [...copy, '-f', 'flv'];
  if (/^(srt|udp|tcp):\/\//i.test(url)) return [...copy, '-f', 'mpegts'];
  if (/\.m3u8$/i.test(url)) return [...copy, '-f', 'hls', '-hls_time', '2', '-hls_list_size', '6', '-hls_flags', 'delete_segments+omit_endlist'];
  return copy;
}
