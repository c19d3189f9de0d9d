import { describe, expect, it } from 'vitest';
import { loadNifti } from '../src/io/nifti';
import { REAL_CT } from './helpers/paths';

describe('smoke', () => {
  it.runIf(REAL_CT.available)('loads the shared real CT', async () => {
    const img = await loadNifti(REAL_CT.image);
    expect(img.shape).toEqual([122, 101, 30]);
  });
});
