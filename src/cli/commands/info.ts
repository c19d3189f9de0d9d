import type { Command } from 'commander';
import { axcodes, type Affine } from '../../core/affine';
import { volumeStats } from '../../core/volume';
import { loadNifti } from '../../io/nifti';

export interface NiftiInfo {
  file: string;
  shape: number[];
  pixdim: number[];
  datatype: string;
  nifti_version: number;
  byte_order: 'little' | 'big';
  affine: number[][];
  orientation: string;
  qform_code: number;
  sform_code: number;
  scl_slope: number;
  scl_inter: number;
  min: number;
  max: number;
  mean: number;
  nan_count: number;
  inf_count: number;
  /** Header problems fixed on load; MONAI's repair may change the affine used for processing (`monai_affine`). */
  warnings: string[];
  monai_affine: number[][];
}

/**
 * nibabel `aff2axcodes`; an axis whose direction is undefined (a zero or degenerate affine column, which nibabel
 * reports as None) is shown as '?'.
 */
function orientationOf(affine: Affine): string {
  try {
    return axcodes(affine);
  } catch {
    return '???';
  }
}

/** Header and statistics of a NIfTI file, as nibabel reports them. */
export async function niftiInfo(file: string): Promise<NiftiInfo> {
  const img = await loadNifti(file, { nonFinite: 'allow' });
  const st = volumeStats(img.data);
  const h = img.header;
  return {
    file,
    shape: img.shape,
    pixdim: [h.pixdim[1], h.pixdim[2], h.pixdim[3]],
    datatype: h.dtype.name,
    nifti_version: h.version,
    byte_order: h.littleEndian ? 'little' : 'big',
    affine: img.nibabelAffine,
    orientation: orientationOf(img.nibabelAffine),
    qform_code: h.qformCode,
    sform_code: h.sformCode,
    scl_slope: h.sclSlope,
    scl_inter: h.sclInter,
    min: st.min,
    max: st.max,
    mean: st.mean,
    nan_count: st.nanCount,
    inf_count: st.infCount,
    warnings: img.warnings,
    monai_affine: img.affine,
  };
}

function fmtRow(r: number[]): string {
  return r.map((v) => v.toFixed(4).padStart(11)).join(' ');
}

export function formatInfo(i: NiftiInfo): string {
  const lines = [
    `file:        ${i.file}`,
    `format:      NIfTI-${i.nifti_version}, ${i.byte_order} endian, ${i.datatype}`,
    `shape:       ${i.shape.join(' × ')}`,
    `pixdim (mm): ${i.pixdim.map((p) => +p.toFixed(6)).join(' × ')}`,
    `orientation: ${i.orientation}   (qform_code ${i.qform_code}, sform_code ${i.sform_code})`,
    `affine:`,
    ...i.affine.map((r) => '  ' + fmtRow(r)),
    `intensity:   min ${i.min}  max ${i.max}  mean ${i.mean.toFixed(4)}` +
      (i.scl_slope && (i.scl_slope !== 1 || i.scl_inter !== 0) ? `   (scl_slope ${i.scl_slope}, scl_inter ${i.scl_inter})` : ''),
  ];
  if (i.nan_count || i.inf_count) lines.push(`WARNING:     ${i.nan_count} NaN and ${i.inf_count} Inf voxels`);
  for (const w of i.warnings) lines.push(`note:        ${w}`);
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('info')
    .description('Print a NIfTI file\'s shape, voxel size, datatype, affine, orientation and intensity statistics')
    .argument('<file>', '.nii or .nii.gz file')
    .option('--json', 'print JSON instead of text')
    .addHelpText('after', '\nExample:\n  ssl3d info data/ct.nii.gz --json')
    .action(async (file: string, opts: { json?: boolean }) => {
      const info = await niftiInfo(file);
      process.stdout.write((opts.json ? JSON.stringify(info, null, 2) : formatInfo(info)) + '\n');
    });
}
