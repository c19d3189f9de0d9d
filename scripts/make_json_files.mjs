#!/usr/bin/env node
/**
 * Writes json_files/: the data-split files of MONAI's self-supervised pretraining tutorial, in the tutorial's layout
 * and byte for byte (spec §6). They are generated from the facts (which volume ids go in which split, in the
 * original order) instead of being copied, and checked against the md5 sums published in the spec.
 *
 *   node scripts/make_json_files.mjs          write json_files/ and verify the md5 sums
 *   node scripts/make_json_files.mjs --check  only verify the files already there (exit 1 on a mismatch)
 *
 * Formatting facts reproduced:
 * - tcia_covid19/dataset_split.json: Python `json.dump` defaults (", " and ": " separators, one line), then "\n".
 *   Entries are {"image": "data/volume-covid19-A-<id>.nii.gz"} in the original (shuffled) order.
 * - btcv/*.json: a leading space, then `json.dump(indent=4)` (same as JSON.stringify(v, null, 4)), then "\n".
 *   The 12- and 24-volume files have a stray blank line after the img0010 entry (hand-edited upstream).
 * - btcv/dataset_0.json is the new-layout name of dataset_0_init_24.json (identical bytes).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'json_files');

/** md5 of each file as listed in the spec (§6). */
const MD5 = {
  'tcia_covid19/dataset_split.json': 'f23de3cadf48f0ac343e35036bba86e8',
  'btcv/dataset_0_init_6.json': 'e79ac3992d0c167fdd93a6b0c35ad876',
  'btcv/dataset_0_init_12.json': '61b0a12281ddcac71e240dc868b8fcbc',
  'btcv/dataset_0_init_24.json': '0419f3540b52cdafab1ff298d60c8553',
  'btcv/dataset_0.json': '0419f3540b52cdafab1ff298d60c8553',
};

// ---- TCIA COVID-19: volume ids (data/volume-covid19-A-<id>.nii.gz) in file order --------------------------------
const TCIA_TRAINING = `
  0656 0495 0705_day043 0264 0300 0722_day047 0434 0015 0700_day010 0411 0572 0003 0693 0715_day000 0307 0489
  0521 0215 0400 0280 0236 0167_1 0733_day007 0701_day055 0513 0712_day000 0182 0511 0321 0120 0367 0534
  0700_day000 0168 0649 0409 0018 0191 0297 0269 0012 0721_day008 0154 0358 0734_day002 0304 0640 0263
  0737_day000 0253 0388 0708_day049 0007 0175 0523 0138 0675 0308 0025 0318_1 0366 0282 0733_day069 0261_0
  0463 0180_0 0220 0298 0573 0140 0702_day008 0648 0600 0111 0418 0084 0221 0569 0598 0421 0703_day000 0074_0
  0683 0369_0 0329 0455 0720_day002 0021 0352 0454 0032 0315 0017 0123 0734_day008 0394 0125 0056 0213 0229
  0737_day013 0515 0420 0417 0426 0107 0710_day002 0722_day018 0535 0005 0022 0079 0416 0458 0560 0449 0580
  0737_day003 0721_day020 0545 0733_day004 0047_0 0106 0593 0715_day019 0655 0687 0692 0373 0647 0161 0002
  0685 0083 0680 0349 0390 0603 0716_day008 0372 0703_day006 0433 0691 0443 0261_1 0509 0704_day006 0231 0542
  0492 0717_day052 0597 0067 0666 0723_day043 0239 0048 0481 0673 0716_day000 0053 0178 0198 0428 0035 0189_0
  0602 0029 0577 0638 0008 0710_day024 0391 0562 0383_0 0723_day000 0092 0196_0 0671 0697 0033 0584 0131 0468
  0527 0703_day010 0558 0241 0259 0216 0612 0736_day000 0009 0710_day007 0088 0581 0393 0554 0736_day010 0335
  0483 0473 0401 0502 0714_day006 0467 0361 0028_1 0232 0202_1 0363 0500 0112 0145 0271 0332 0281 0171_0 0336
  0531 0579 0713_day017 0695 0708_day018 0639 0607 0082 0174 0257 0260 0240 0126 0661 0036 0410 0398 0665 0493
  0706_day015 0619 0708_day000 0440 0326 0556 0644 0080 0375 0503 0662 0299 0234 0546 0344 0149 0738_day052
  0645 0272 0177 0738_day010 0631 0570 0737_day006 0709_day005 0287_1 0262 0223 0444 0723_day004 0702_day050
  0703_day016 0715_day012 0115 0643 0448 0575 0110 0290 0676 0287_0 0381_1 0594 0702_day021 0700_day015 0658
  0735_day021 0702_day014 0038 0169 0651 0561 0284 0701_day000 0637 0074_1 0237 0128 0707_day000 0212_0 0437
  0707_day060 0374 0170 0327 0185 0517 0324 0117 0736_day014 0310 0078 0081 0547 0738_day000 0085 0267 0582
  0474 0718_day002 0227 0432 0150 0345 0629 0385 0165 0700_day056 0530 0507 0709_day000 0674 0293 0485
  0722_day008 0586 0244 0713_day050 0608 0615 0100 0054 0498 0070 0479 0031 0425 0252 0663 0387 0203
  0708_day003 0153 0472 0490 0397 0505 0320 0616 0510 0694 0550 0291_0 0116 0279 0734_day005 0590 0690 0578
  0277 0195 0617 0325 0610 0011 0714_day000 0351 0353 0636 0670 0713_day012 0156 0682 0157 0548 0303_0 0212_1
  0275 0717_day005 0707_day002 0430 0004 0099 0027_1 0529 0190 0075 0606 0064 0718_day000 0735_day010 0042
  0522 0249 0718_day054 0342 0094 0016 0047_1 0439 0635 0370 0006 0219 0091 0355 0109 0069 0377 0405 0343 0071
  0604 0371 0722_day003 0362 0596 0576 0357 0681 0480 0184_1 0139 0559 0423 0013 0181 0659 0499 0464 0331
  0735_day004 0118 0180_1 0166 0066 0536 0096 0512 0713_day008 0571 0346 0129 0222 0184_0 0737_day044 0289
  0609 0356 0669 0186 0189_1 0553 0625 0641 0010 0041 0657 0703_day021 0314 0504 0413 0019 0202_0 0422 0233
  0585 0328 0487 0296 0414 0630 0323 0679 0164 0702_day011 0392 0710_day000 0330 0046 0270 0678 0633
  0734_day012 0144 0715_day052 0402 0519 0382 0183 0540 0668 0475 0722_day000 0001 0484 0201 0722_day011
  0710_day013 0660 0516 0721_day000 0686 0288 0256_0 0614 0039 0708_day011 0258 0242 0098 0412 0549 0235 0407
  0461 0618 0719_day000 0403 0442 0478 0706_day011 0450 0142 0136 0506 0360 0488 0713_day000 0340 0457 0557
  0622 0134 0020 0102 0255 0268 0406 0438 0632 0254 0624 0524 0305 0589 0247 0369_1 0445 0000 0130 0037 0204
  0319 0030 0073 0034 0588 0316 0404 0626 0068 0179 0720_day000 0435 0710_day057 0246 0228 0627 0303_1 0057
  0133 0698 0567 0533 0620 0537 0147 0114 0347 0256_1 0605 0735_day052 0501 0592 0089 0735_day000 0408 0318_0
  0135 0477 0653
`;

const TCIA_VALIDATION = `
  0424 0552 0090 0028_0 0137 0199 0538 0664 0295 0359 0532 0736_day050 0708_day008 0714_day051 0706_day049
  0705_day000 0285 0566 0667 0301 0378 0101 0734_day000 0446 0196_1 0543 0706_day006 0451 0595 0427 0384 0302
  0146 0341 0564 0591 0194 0712_day022 0076 0555 0273 0447 0339 0309 0023 0672 0043 0469 0311 0654 0286 0688
  0621 0719_day060 0226 0095 0306 0108 0051 0077 0225 0705_day004 0689 0124 0072 0040 0702_day062 0491 0539
  0350 0702_day025 0337 0158 0470 0396 0121 0574 0526 0436 0494 0014 0465 0702_day000 0173 0706_day000 0684
  0193 0541 0551 0044 0206 0365 0214 0188 0736_day007 0143 0601 0063 0313 0415 0703_day003 0528 0476 0563 0568
  0354 0704_day000 0104 0613 0652 0738_day002 0245 0700_day007 0291_1 0383_1 0276 0187 0338 0650 0452 0419
  0453 0719_day002 0701_day006 0718_day017 0348 0086 0055 0274 0482 0587 0599 0431 0456 0294 0218 0712_day068
  0381_0 0696 0623 0514 0441 0266 0699 0518 0333 0712_day005 0045 0460 0386 0152 0734_day020 0525 0544 0376
  0251 0462 0733_day000 0151 0715_day007 0486 0429 0238 0717_day000 0380 0646 0026 0176 0611 0224 0628
`;

const ids = (s) => s.trim().split(/\s+/);
const tciaEntry = (id) => ({ image: `data/volume-covid19-A-${id}.nii.gz` });

/** Python json.dumps with default separators (ASCII-only content, so escaping matches JSON.stringify). */
function pyDumps(v) {
  if (Array.isArray(v)) return '[' + v.map(pyDumps).join(', ') + ']';
  if (v !== null && typeof v === 'object') {
    return '{' + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ': ' + pyDumps(x)).join(', ') + '}';
  }
  return JSON.stringify(v);
}

function tcia() {
  const split = { training: ids(TCIA_TRAINING).map(tciaEntry), validation: ids(TCIA_VALIDATION).map(tciaEntry) };
  return pyDumps(split) + '\n';
}

// ---- BTCV ------------------------------------------------------------------------------------------------------------
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const id4 = (i) => String(i).padStart(4, '0');
const BTCV_TRAINING = {
  6: range(1, 6),
  12: [...range(1, 10), 21, 22],
  24: [...range(1, 10), ...range(21, 34)],
};
const BTCV_VALIDATION = range(35, 40);
const BTCV_TEST = range(61, 80);
const BTCV_LABELS = ['background', 'spleen', 'rkid', 'lkid', 'gall', 'eso', 'liver', 'sto', 'aorta', 'IVC', 'veins', 'pancreas', 'rad', 'lad'];

function btcv(nTrain) {
  const pair = (i) => ({ image: `imagesTr/img${id4(i)}.nii.gz`, label: `labelsTr/label${id4(i)}.nii.gz` });
  const data = {
    description: 'btcv yucheng',
    labels: Object.fromEntries(BTCV_LABELS.map((n, i) => [String(i), n])),
    licence: 'yt',
    modality: { 0: 'CT' },
    name: 'btcv',
    numTest: 20,
    numTraining: 80, // stale in the originals (they list 6/12/24); kept for byte identity
    reference: 'Vanderbilt University',
    release: '1.0 06/08/2015',
    tensorImageSize: '3D',
    test: BTCV_TEST.map((i) => `imagesTs/img${id4(i)}.nii.gz`),
    training: BTCV_TRAINING[nTrain].map(pair),
    validation: BTCV_VALIDATION.map(pair),
  };
  let text = ' ' + JSON.stringify(data, null, 4) + '\n';
  if (nTrain > 6) text = text.replace('"labelsTr/label0010.nii.gz"\n        },\n', '"labelsTr/label0010.nii.gz"\n        },\n\n');
  return text;
}

const FILES = {
  'tcia_covid19/dataset_split.json': tcia,
  'btcv/dataset_0_init_6.json': () => btcv(6),
  'btcv/dataset_0_init_12.json': () => btcv(12),
  'btcv/dataset_0_init_24.json': () => btcv(24),
  'btcv/dataset_0.json': () => btcv(24),
};

const md5 = (buf) => createHash('md5').update(buf).digest('hex');
const checkOnly = process.argv.includes('--check');
let bad = 0;
for (const [rel, make] of Object.entries(FILES)) {
  const file = join(OUT, rel);
  let bytes;
  if (checkOnly) {
    bytes = readFileSync(file);
  } else {
    bytes = Buffer.from(make(), 'utf8');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
  const got = md5(bytes);
  const ok = got === MD5[rel];
  if (!ok) bad++;
  console.log(`${ok ? 'ok      ' : 'MISMATCH'} ${got}  json_files/${rel}${ok ? '' : ` (expected ${MD5[rel]})`}`);
}
process.exit(bad ? 1 : 0);
