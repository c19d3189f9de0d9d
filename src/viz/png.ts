/** PNG encoding and decoding of RGBA images (pngjs), and an atomic PNG file writer. */
import { PNG } from 'pngjs';
import { ArgumentError } from '../errors';
import type { RgbaImage } from './image';
import { writeFileAtomic as writeAtomicRaw } from '../io/atomic';

export function encodePng(img: RgbaImage): Buffer {
  if (img.data.length !== 4 * img.width * img.height) {
    throw new ArgumentError(`image data has ${img.data.length} bytes, expected ${4 * img.width * img.height} for ${img.width}×${img.height} RGBA`);
  }
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: 6 });
}

export function decodePng(bytes: Buffer): RgbaImage {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
}

/** Write bytes to `file` atomically (temp file + rename). */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  try {
    await writeAtomicRaw(file, bytes);
  } catch (e) {
    throw new ArgumentError(`${file}: cannot write: ${(e as Error).message}`);
  }
}

export async function writePng(file: string, img: RgbaImage): Promise<Buffer> {
  const bytes = encodePng(img);
  await writeFileAtomic(file, bytes);
  return bytes;
}
