// The settings of the Raspberry Pi camera module (SOURCE=rpicam), read by rpicam-vid.
import { z } from 'zod';
import { bool, number, optionalString } from './values.js';

export const RPICAM_CODECS = ['yuv420', 'mjpeg', 'h264'] as const;

export const cameraSettings = {
  RPICAM_SIZE: z
    .string()
    .regex(/^\d{2,5}x\d{2,5}$/, { error: 'expected WIDTHxHEIGHT, e.g. 1280x720' })
    .default('1280x720')
    .describe('SOURCE=rpicam: the size rpicam-vid delivers (one of the modes rpicam-hello --list-cameras shows, or a size the ISP scales to).')
    .meta({ examples: ['1920x1080'] }),
  RPICAM_FRAMERATE: number({ min: 1, max: 120 })
    .default(15)
    .describe('SOURCE=rpicam: frames per second from the camera (DETECT_FPS of them reach the model).')
    .meta({ examples: ['30'] }),
  RPICAM_CODEC: z
    .enum(RPICAM_CODECS, { error: 'expected yuv420, mjpeg or h264' })
    .default('yuv420')
    .describe(
      'SOURCE=rpicam: what rpicam-vid writes to the pipe. yuv420 (raw): no encoding on the Pi and no decoding in FFmpeg, only scaling; mjpeg and h264 cost an encode (in software on a Pi 5, which has no H.264 encoder) and a decode, for a smaller pipe.',
    )
    .meta({ examples: ['mjpeg'] }),
  RPICAM_ROTATION: z
    .enum(['0', '180'], { error: 'expected 0 or 180 (the sensor flips; 90 and 270 are not supported by rpicam-vid)' })
    .default('0')
    .describe('SOURCE=rpicam: turn the picture upside down (a camera mounted upside down).')
    .meta({ examples: ['180'] }),
  RPICAM_HFLIP: bool(false)
    .describe('SOURCE=rpicam: mirror the picture left to right.')
    .meta({ examples: ['true'] }),
  RPICAM_VFLIP: bool(false)
    .describe('SOURCE=rpicam: mirror the picture top to bottom.')
    .meta({ examples: ['true'] }),
  RPICAM_EXPOSURE: z
    .enum(['normal', 'sport', 'long'], { error: 'expected normal, sport or long' })
    .default('normal')
    .describe('SOURCE=rpicam: the exposure profile. sport: shorter exposures, less motion blur on fast vehicles; long: brighter at night.')
    .meta({ examples: ['sport'] }),
  RPICAM_SHUTTER: number({ min: 0, max: 10_000_000, int: true })
    .default(0)
    .describe('SOURCE=rpicam: a fixed shutter time in microseconds (at night, e.g. 10000 keeps cars sharp; the gain makes up). 0: automatic.')
    .meta({ examples: ['10000'] }),
  RPICAM_GAIN: number({ min: 0, max: 64 })
    .default(0)
    .describe('SOURCE=rpicam: a fixed analogue gain (with RPICAM_SHUTTER at night). 0: automatic.')
    .meta({ examples: ['8'] }),
  RPICAM_PATH: optionalString()
    .describe('The camera tool. Empty: rpicam-vid on PATH, else libcamera-vid (its name before Raspberry Pi OS Bookworm).')
    .meta({ examples: ['/usr/bin/rpicam-vid'] }),
};
