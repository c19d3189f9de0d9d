/** Shared helpers for the NIfTI tests: the fixture folder, expected.json and numeric comparisons. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { FIXTURES, ROOT } from '../helpers/paths';

export const NIFTI_FIXTURES = path.join(FIXTURES, 'nifti');

/** JSON numbers for non-finite values are written as strings by make_nifti_fixtures.py. */
export type Num = number | 'NaN' | 'Infinity' | '-Infinity';

export function num(v: Num): number {
  return typeof v === 'number' ? v : Number(v);
}

export interface NibabelView {
  nifti_version: 1 | 2;
  byte_order: 'little' | 'big';
  datatype: string;
  shape: number[];
  zooms: number[];
  affine: number[][];
  qform: number[][];
  sform: number[][];
  qform_code: number;
  sform_code: number;
  qfac: number;
  orientation: string;
  slope: number;
  inter: number;
  min: Num;
  max: Num;
  mean: Num;
  nan_count: number;
  inf_count: number;
  samples: { ijk: [number, number, number]; value: Num; value_f32: Num }[];
}

export interface MonaiView {
  shape: number[];
  dtype: string;
  affine: number[][];
  pixdim: number[];
}

export interface FileRef {
  note: string;
  /** Set for files outside the fixture folder (the shared real CT), relative to the repository root. */
  path?: string;
  nibabel: NibabelView;
  monai: MonaiView;
}

export interface ErrorRef {
  kind: string;
  note: string;
  nibabel_error: string | null;
}

export interface WrittenRef {
  note: string;
  inputs: { dtype: 'float32' | 'int16' | 'uint8'; shape: [number, number, number]; affine: number[][] };
  nibabel: {
    shape: number[];
    datatype: string;
    affine: number[][];
    qform: number[][];
    sform: number[][];
    qform_code: number;
    sform_code: number;
    qfac: number;
    zooms: number[];
    xyzt_units: string[];
    orientation: string;
    qform_orientation: string;
    nibabel_set_qform: number[][];
    data_equals_inputs: boolean;
    max_abs_diff: number;
    min: number;
    max: number;
    mean: number;
  };
  monai: MonaiView;
}

export interface Expected {
  generator: string;
  versions: Record<string, string>;
  files: Record<string, FileRef>;
  errors: Record<string, ErrorRef>;
  written: Record<string, WrittenRef>;
}

export const EXPECTED: Expected = JSON.parse(readFileSync(path.join(NIFTI_FIXTURES, 'expected.json'), 'utf8'));

export function fixturePath(name: string, ref?: { path?: string }): string {
  return ref?.path ? path.resolve(ROOT, ref.path) : path.join(NIFTI_FIXTURES, name);
}

/** Every entry of `actual` within `tol` (absolute) of `expected`; the message names the element. */
export function expectMatClose(actual: number[][], expected: number[][], tol: number, what: string): void {
  expect(actual.length, `${what}: rows`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    for (let j = 0; j < expected[i].length; j++) {
      const a = actual[i][j];
      const e = expected[i][j];
      if (!(Math.abs(a - e) <= tol)) {
        throw new Error(
          `${what}[${i}][${j}] = ${a}, expected ${e} (±${tol})\nactual:   ${JSON.stringify(actual)}\nexpected: ${JSON.stringify(expected)}`,
        );
      }
    }
  }
}

export function expectVecClose(actual: readonly number[], expected: readonly number[], tol: number, what: string): void {
  expectMatClose([Array.from(actual)], [Array.from(expected)], tol, what);
}

/** |a − e| ≤ rel·max(1, |e|, scale), NaN equal to NaN. */
export function expectNumClose(actual: number, expected: number, rel: number, what: string, scale = 0): void {
  if (Number.isNaN(expected)) {
    expect(actual, what).toBeNaN();
    return;
  }
  const tol = rel * Math.max(1, Math.abs(expected), Math.abs(scale));
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`${what} = ${actual}, expected ${expected} (±${tol})`);
}

/** The voxel values the writer fixtures hold (same formula as make_nifti_fixtures.py `written_value`). */
export function writtenValue(dtype: string, x: number, y: number, z: number): number {
  const base = (x * 31 + y * 17 + z * 7) % 61;
  if (dtype === 'uint8') return (base * 4) % 256;
  if (dtype === 'int16') return base * 500 - 15000;
  return base - 20 + x * 0.125 - y / 3;
}

export function writtenData(dtype: string, shape: readonly [number, number, number]): Float32Array {
  const [X, Y, Z] = shape;
  const data = new Float32Array(X * Y * Z);
  for (let x = 0; x < X; x++) {
    for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) data[(x * Y + y) * Z + z] = writtenValue(dtype, x, y, z);
  }
  return data;
}
