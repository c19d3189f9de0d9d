/** The augmentation figure: montage size, plotly JSON spec shape, self-contained HTML. */
import { describe, expect, it } from 'vitest';
import { createVolume, type Volume } from '../../src/core/volume';
import { buildFigure, encodePng, figureHtml, figurePlotlySpec } from '../../src/viz';

function ramp(X: number, Y: number, Z: number, f: (x: number, y: number, z: number) => number): Volume {
  const v = createVolume([1, X, Y, Z]);
  for (let x = 0; x < X; x++) for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) v.data[(x * Y + y) * Z + z] = f(x, y, z);
  return v;
}

describe('augmentation figure', () => {
  const a = ramp(8, 10, 12, (x, y) => (x + y) / 16);
  const b = ramp(8, 10, 12, (x) => x / 7);
  const lab = ramp(8, 10, 12, (x, y) => (x > 3 ? 1 : 0) + (y > 5 ? 2 : 0));
  const fig = buildFigure(
    [
      { name: 'Original patch', volume: a },
      { name: 'Augmented view 1', volume: b },
      { name: 'Label <crop>', volume: lab, kind: 'label' },
    ],
    { slices: 4, scale: 2, gap: 2 },
  );

  it('is rows × slices tiles of the upscaled slice size', () => {
    expect(fig.zIndices).toEqual([1, 4, 7, 10]);
    expect(fig.layout.cellWidth).toBe(20);
    expect(fig.layout.cellHeight).toBe(16);
    expect(fig.image.width).toBe(2 + 4 * (20 + 2));
    expect(fig.image.height).toBe(2 + 3 * (16 + 2));
    expect(fig.window).toEqual({ min: 0, max: 1 }); // auto: min/max over the image rows
    expect(() => buildFigure([{ name: 'a', volume: a }, { name: 'b', volume: ramp(8, 10, 11, () => 0) }])).toThrow(/share a spatial shape/);
  });

  it('plotly spec: one heatmap per tile on its own axes, y reversed, row/column annotations', () => {
    const spec = figurePlotlySpec(fig);
    const json = JSON.parse(JSON.stringify(spec));
    expect(json.data).toHaveLength(12);
    const t0 = json.data[0];
    expect(t0.type).toBe('heatmap');
    expect(t0.z).toHaveLength(8); // rows = X
    expect(t0.z[0]).toHaveLength(10); // cols = Y
    expect(t0.z[3][5]).toBeCloseTo(8 / 16, 4);
    expect([t0.xaxis, t0.yaxis]).toEqual(['x', 'y']);
    expect([json.data[11].xaxis, json.data[11].yaxis]).toEqual(['x12', 'y12']);
    expect(json.layout.yaxis12.autorange).toBe('reversed');
    expect(json.layout.yaxis12.scaleanchor).toBe('x12');
    expect(t0.zmin).toBe(0);
    expect(t0.zmax).toBe(1);
    expect(json.data[8].zmin).toBe(-0.5); // label row: discrete palette
    const texts = json.layout.annotations.map((x: { text: string }) => x.text);
    expect(texts).toEqual(expect.arrayContaining(['Original patch', 'Augmented view 1', 'Label <crop>', 'z = 1', 'z = 10']));
  });

  it('HTML: self-contained (PNG inlined, no external resources), labels escaped', () => {
    const png = encodePng(fig.image);
    const html = figureHtml(fig, png, 'caption & more');
    expect(html).toContain(`data:image/png;base64,${png.toString('base64')}`);
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
    expect(html).toContain('Label &lt;crop&gt;');
    expect(html).toContain('Augmented view 1');
    expect(html).toContain('z = 7');
    expect(html).toContain('caption &amp; more');
  });
});
