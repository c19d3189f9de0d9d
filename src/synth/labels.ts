/** The 13 BTCV abdominal organ labels, in BTCV order (0 = background), as the tutorial's datalists name them. */

export const BTCV_LABELS = {
  background: 0,
  spleen: 1,
  rkid: 2,
  lkid: 3,
  gall: 4,
  eso: 5,
  liver: 6,
  sto: 7,
  aorta: 8,
  IVC: 9,
  veins: 10,
  pancreas: 11,
  rad: 12,
  lad: 13,
} as const;

export type BtcvLabelName = keyof typeof BTCV_LABELS;

/** Short names by class id, exactly the `labels` map of the tutorial's `btcv/dataset_0*.json`. */
export const BTCV_LABEL_NAMES: readonly string[] = Object.keys(BTCV_LABELS);

/** Long names by class id (BTCV challenge wording). */
export const BTCV_LABEL_DESCRIPTIONS: readonly string[] = [
  'background',
  'spleen',
  'right kidney',
  'left kidney',
  'gallbladder',
  'esophagus',
  'liver',
  'stomach',
  'aorta',
  'inferior vena cava',
  'portal vein and splenic vein',
  'pancreas',
  'right adrenal gland',
  'left adrenal gland',
];

export const NUM_ORGANS = 13;

/** `{"0": "background", "1": "spleen", ...}` as in the BTCV datalists. */
export function btcvLabelMap(): Record<string, string> {
  return Object.fromEntries(BTCV_LABEL_NAMES.map((n, i) => [String(i), n]));
}
