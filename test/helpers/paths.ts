import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
/** ../shared/ beside the checkout (present on developer machines and in CI). */
export const SHARED = path.resolve(ROOT, '..', 'shared');
const ctDir = path.join(SHARED, 'data', 'ct-abdomen-small');
export const REAL_CT = {
  dir: ctDir,
  image: path.join(ctDir, 'example_ct_sm.nii.gz'),
  label: path.join(ctDir, 'example_seg.nii.gz'),
  available: existsSync(path.join(ctDir, 'example_ct_sm.nii.gz')),
};
