/** The states of the video source, as `state.camera`, the viewer and /healthz report them. */
export const CAPTURE_STATES = ['starting', 'streaming', 'reconnecting', 'ended'] as const;
export type CaptureState = (typeof CAPTURE_STATES)[number];
