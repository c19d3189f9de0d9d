import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The shared real CT folder beside the checkout (../shared/data/ct-abdomen-small), if present. */
export const REAL_CT_DIR: string | undefined = (() => {
  const dir = path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'ct-abdomen-small');
  return existsSync(path.join(dir, 'example_ct_sm.nii.gz')) ? dir : undefined;
})();
