// Turns the model-input frame back into a picture of the source (undoing the
// letterbox or stretch) as JPEG, optionally with the detections drawn on it.
import sharp from 'sharp';
import type { Frame } from './frame.js';
import type { Detection } from '../detect/index.js';
import type { StoredFrame } from './store.js';

/** Widest JPEG the viewer sends; the source aspect is kept. */
const MAX_WIDTH = 960;

export function displaySize(f: Pick<StoredFrame, 'sourceWidth' | 'sourceHeight' | 'transform' | 'width'>): { width: number; height: number } {
  const srcW = f.sourceWidth;
  const width = Math.min(MAX_WIDTH, srcW, Math.round(f.transform.scaleX * srcW) || f.width);
  return { width, height: Math.max(1, Math.round((width * f.sourceHeight) / srcW)) };
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** An SVG layer of boxes and labels in source pixels, scaled to `size`. */
export function boxesSvg(detections: (Detection & { trackId?: number })[], f: Pick<StoredFrame, 'sourceWidth' | 'sourceHeight'>, size: { width: number; height: number }): Buffer {
  const sx = size.width / f.sourceWidth;
  const sy = size.height / f.sourceHeight;
  const shapes = detections.map((d) => {
    const [x1, y1, x2, y2] = d.box;
    const label = `${d.className}${d.trackId ? ` #${d.trackId}` : ''} ${Math.round(d.score * 100)}%`;
    const x = x1 * sx;
    const y = y1 * sy;
    return (
      `<rect x="${x}" y="${y}" width="${(x2 - x1) * sx}" height="${(y2 - y1) * sy}" fill="none" stroke="#00e676" stroke-width="2"/>` +
      `<rect x="${x}" y="${Math.max(0, y - 16)}" width="${label.length * 7 + 6}" height="16" fill="#00e676"/>` +
      `<text x="${x + 3}" y="${Math.max(0, y - 16) + 12}" font-family="sans-serif" font-size="12" fill="#000">${escapeXml(label)}</text>`
    );
  });
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${size.height}">${shapes.join('')}</svg>`);
}

/** The part of a model-input frame that holds the picture (without letterbox bars). */
export function pictureRegion(f: Pick<Frame, 'width' | 'height' | 'sourceWidth' | 'sourceHeight' | 'transform'>): { left: number; top: number; width: number; height: number } {
  const t = f.transform;
  return {
    left: Math.max(0, Math.round(t.padX)),
    top: Math.max(0, Math.round(t.padY)),
    width: Math.min(f.width - Math.round(t.padX), Math.round(f.sourceWidth * t.scaleX)),
    height: Math.min(f.height - Math.round(t.padY), Math.round(f.sourceHeight * t.scaleY)),
  };
}

export async function renderJpeg(f: StoredFrame, detections?: (Detection & { trackId?: number })[], quality = 75): Promise<Buffer> {
  const size = displaySize(f);
  let image = sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
    .extract(pictureRegion(f))
    .resize(size.width, size.height, { fit: 'fill' });
  if (detections?.length) image = sharp(await image.png({ compressionLevel: 0 }).toBuffer()).composite([{ input: boxesSvg(detections, f, size) }]);
  return image.jpeg({ quality, mozjpeg: false }).toBuffer();
}
