/** Windowing to 8-bit grey, label colours, upscaling, montage geometry, PNG round trip through pngjs. */
import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { autoWindow, decodePng, encodePng, grayImage, labelColor, labelImage, LABEL_PALETTE, montage, toGray8, upscale, windowFromLevel } from '../../src/viz';

describe('window/level', () => {
  it('maps linearly, clips, and sends NaN to black', () => {
    expect(Array.from(toGray8([-1, 0, 0.5, 1, 2, NaN], { min: 0, max: 1 }))).toEqual([0, 0, 128, 255, 255, 0]);
    expect(windowFromLevel(40, 400)).toEqual({ min: -160, max: 240 });
    expect(Array.from(toGray8([-160, 40, 240], windowFromLevel(40, 400)))).toEqual([0, 128, 255]);
    expect(autoWindow([3, NaN, -2], [Infinity, 7])).toEqual({ min: -2, max: 7 });
    expect(autoWindow([NaN])).toEqual({ min: 0, max: 1 });
    expect(Array.from(toGray8([1, 2], { min: 2, max: 2 }))).toEqual([0, 255]);
  });

  it('label colours: 0 black, ids distinct, wrap beyond the palette', () => {
    expect(labelColor(0)).toEqual([0, 0, 0]);
    const ids = Array.from({ length: 13 }, (_, i) => labelColor(i + 1).join());
    expect(new Set(ids).size).toBe(13);
    expect(labelColor(LABEL_PALETTE.length)).toEqual(labelColor(1));
    const img = labelImage({ data: Float32Array.from([0, 1, 2, 1.0000001]), rows: 2, cols: 2, z: 0 });
    expect(Array.from(img.data.subarray(4, 8))).toEqual([...LABEL_PALETTE[1], 255]);
    expect(Array.from(img.data.subarray(12, 16))).toEqual([...LABEL_PALETTE[1], 255]);
  });
});

describe('montage and PNG', () => {
  const tile = (v: number, w = 3, h = 2) => grayImage({ data: new Float32Array(w * h).fill(v), rows: h, cols: w, z: 0 }, { min: 0, max: 1 });

  it('upscales by nearest neighbour', () => {
    const img = grayImage({ data: Float32Array.from([0, 1]), rows: 1, cols: 2, z: 0 }, { min: 0, max: 1 });
    const u = upscale(img, 3);
    expect([u.width, u.height]).toEqual([6, 3]);
    expect(u.data[4 * (2 * 6 + 2)]).toBe(0);
    expect(u.data[4 * (2 * 6 + 3)]).toBe(255);
  });

  it('tiles a grid with separators; PNG encodes and decodes to the same pixels (pngjs)', () => {
    const { image, layout } = montage([[tile(0), tile(1)], [tile(0.5), null]], { gap: 1, background: [10, 20, 30] });
    expect([image.width, image.height]).toEqual([1 + 2 * (3 + 1), 1 + 2 * (2 + 1)]);
    expect(layout.origin(1, 1)).toEqual({ x: 5, y: 4 });
    const px = (x: number, y: number) => Array.from(image.data.subarray(4 * (y * image.width + x), 4 * (y * image.width + x) + 4));
    expect(px(0, 0)).toEqual([10, 20, 30, 255]);
    expect(px(1, 1)).toEqual([0, 0, 0, 255]);
    expect(px(5, 1)).toEqual([255, 255, 255, 255]);
    expect(px(1, 4)).toEqual([128, 128, 128, 255]);
    expect(px(5, 4)).toEqual([10, 20, 30, 255]); // missing tile = background
    const png = encodePng(image);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const back = decodePng(png);
    expect([back.width, back.height]).toEqual([image.width, image.height]);
    expect(Buffer.from(back.data).equals(Buffer.from(image.data))).toBe(true);
    const raw = PNG.sync.read(png);
    expect(raw.width).toBe(9);
  });
});
