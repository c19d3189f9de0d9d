/**
 * A random abdomen: body outline, skeleton, muscles, bowel, lungs and heart (unlabeled) and the 13 BTCV organs,
 * as shapes in world millimetres (RAS+: +x = patient's right, +y = anterior, +z = superior; z = 0 is about the
 * L1/L2 level, x = y = 0 the body's axis). Portal-venous-phase HU.
 *
 * The layout is a nominal adult abdomen scaled to the drawn body size, with every organ's position, size, rotation
 * and shape jittered, so no two phantoms are alike but all are anatomically plausible: liver and gallbladder on the
 * patient's right, spleen and stomach on the left, kidneys beside the spine (the right one lower), pancreas head in
 * the duodenal sweep on the right and tail at the splenic hilum, aorta left-anterior of the spine, IVC to its
 * right, adrenals above the kidneys.
 *
 * Paint order matters (later shapes win): body → lungs, heart, bowel → muscles, skeleton → organs → vessels →
 * adrenals.
 */
import type { Random } from '../core/random';
import { eulerRotation, type Vec3 } from './grid';
import { BTCV_LABELS as L } from './labels';
import { PERT_TERMS, REGION, tube, type BlobShape, type BodyShape, type Layer, type Shape } from './shapes';
import type { Mat3 } from '../core/affine';

export interface Anatomy {
  body: BodyShape;
  shapes: Shape[];
  /** The HU drawn for each tissue of this phantom. */
  hu: Record<string, number>;
  /** Height range (world z, mm) the organs need; the field of view is placed to cover it. */
  organZRange: [number, number];
  /** Standard deviation of the image noise, HU. */
  noiseStd: number;
}

/** The HU range each tissue is drawn from (portal venous phase). */
export const TISSUE_HU: Record<string, [number, number]> = {
  air: [-1000, -1000],
  subcutaneousFat: [-115, -90],
  visceralFat: [-105, -85],
  muscle: [40, 60],
  lung: [-880, -820],
  heart: [120, 160],
  boneCortical: [600, 1000],
  boneCancellous: [180, 300],
  disc: [70, 95],
  csf: [10, 30],
  bowelWall: [40, 70],
  bowelFluid: [0, 30],
  stool: [-120, 40],
  liver: [100, 130],
  spleen: [110, 130],
  kidneyCortex: [150, 200],
  kidneyMedulla: [95, 125],
  renalSinus: [-60, -10],
  gallbladder: [0, 20],
  esophagus: [35, 55],
  stomachWall: [45, 65],
  stomachContent: [5, 25],
  aorta: [160, 250],
  ivc: [150, 220],
  portalVein: [160, 230],
  pancreas: [80, 110],
  adrenal: [30, 60],
};

class Sampler {
  constructor(readonly rng: Random) {}
  u(lo: number, hi: number): number {
    return this.rng.uniform(lo, hi);
  }
  bool(p: number): boolean {
    return this.rng.bool(p);
  }
  /** Normal(0, sd) clipped to ±2.5 sd. */
  n(sd: number): number {
    return Math.max(-2.5 * sd, Math.min(2.5 * sd, this.rng.normal(0, sd)));
  }
  pert(sd: number): number[] {
    return Array.from({ length: PERT_TERMS }, () => this.n(sd));
  }
  tissue(name: string): number {
    const [lo, hi] = TISSUE_HU[name];
    return lo === hi ? lo : Math.round(this.u(lo, hi));
  }
}

export function sampleAnatomy(rng: Random): Anatomy {
  const s = new Sampler(rng);
  const hu: Record<string, number> = {};
  for (const t of Object.keys(TISSUE_HU)) hu[t] = s.tissue(t);
  // The medulla is always darker than the cortex.
  hu.kidneyMedulla = Math.min(hu.kidneyMedulla, hu.kidneyCortex - 30);

  // ---- body outline -------------------------------------------------------------------------------------------
  const body: BodyShape = {
    halfWidth: s.u(132, 160),
    halfDepth: s.u(98, 122),
    centerY: 0,
    fatLateral: s.u(10, 30),
    fatAP: s.u(8, 26),
    muscleThickness: s.u(8, 14),
    taperPer100mm: s.u(0, 0.05),
    taperZ0: 0,
    fatHU: hu.subcutaneousFat,
    muscleHU: hu.muscle,
    cavityHU: hu.visceralFat,
    airHU: hu.air,
  };
  // Nominal layout is for an inner (below the fat) half-width 130 mm and half-depth 95 mm.
  const sx = (body.halfWidth - body.fatLateral) / 130;
  const sy = (body.halfDepth - body.fatAP) / 95;
  const sz = s.u(0.93, 1.07);
  const size = s.u(0.9, 1.1);
  /** Nominal position → this body, with jitter (mm). */
  const P = (x: number, y: number, z: number, jit = 5): Vec3 => [x * sx + s.n(jit), y * sy + s.n(jit), z * sz + s.n(jit)];
  /** Nominal semi-axes → this phantom, each jittered by ±12 %. */
  const A = (a: number, b: number, c: number): Vec3 => [
    a * size * s.u(0.88, 1.12),
    b * size * s.u(0.88, 1.12),
    c * size * s.u(0.88, 1.12),
  ];
  /** Euler rotation (degrees) with jitter. */
  const R = (ax: number, ay: number, az: number, jit = 6): Mat3 => eulerRotation(ax + s.n(jit), ay + s.n(jit), az + s.n(jit));
  const solid = (h: number): Layer[] => [{ upTo: 1, hu: h }];
  const blob = (
    name: string,
    label: number,
    center: Vec3,
    axes: Vec3,
    rot: Mat3,
    layers: Layer[],
    pertSd = 0.07,
    extra: Partial<BlobShape> = {},
  ): BlobShape => ({ kind: 'blob', name, label, center, axes, rot, pert: s.pert(pertSd), layers, ...extra });
  const cavity = REGION.cavity;
  const inBody = REGION.subcutaneousFat;
  const yb = -45 * sy; // vertebral body centre
  const shapes: Shape[] = [];
  const add = (...xs: Shape[]): void => {
    for (const x of xs) shapes.push(x.within === undefined && x.label > 0 ? { ...x, within: cavity } : x);
  };

  // ---- thorax base: lungs and heart (cavity only; the liver and spleen paint over them) ------------------------
  add(blob('lung_right', 0, P(78, -22, 215), A(62, 72, 120), R(0, 0, 0), solid(hu.lung), 0.06, { within: cavity }));
  add(blob('lung_left', 0, P(-80, -22, 225), A(60, 72, 120), R(0, 0, 0), solid(hu.lung), 0.06, { within: cavity }));
  add(blob('heart', 0, P(-22, 32, 205), A(62, 52, 58), R(0, 0, -20), solid(hu.heart), 0.05, { within: cavity }));

  // ---- bowel (unlabeled): colon frame and small-bowel loops -----------------------------------------------------
  const colonR = s.u(16, 23);
  const colonLumen = (): Layer[] => [
    { upTo: 0.78, hu: s.bool(0.6) ? hu.air : s.tissue('stool') },
    { upTo: 1, hu: hu.bowelWall },
  ];
  const colonPts: Vec3[] = [
    P(86, 5, -125, 6),
    P(86, 8, -45, 6),
    P(74, 34, -12, 6),
    P(20, 58, -22, 8),
    P(-35, 56, -10, 8),
    P(-78, 22, 28, 6),
    P(-88, -2, -40, 6),
    P(-86, 0, -125, 6),
  ];
  for (let i = 0; i + 1 < colonPts.length; i++) {
    add(...tube('colon', 0, [colonPts[i], colonPts[i + 1]], [colonR, colonR], colonLumen(), cavity));
  }
  const loops = Math.round(s.u(12, 20));
  for (let i = 0; i < loops; i++) {
    const r = s.u(11, 19);
    const content = s.bool(0.25) ? hu.air : s.tissue('bowelFluid');
    add(
      blob(
        'small_bowel',
        0,
        P(s.u(-60, 60), s.u(0, 62), s.u(-135, -25), 0),
        [r * s.u(0.8, 1.2), r * s.u(0.8, 1.2), r * s.u(0.8, 1.4)],
        R(s.u(-90, 90), s.u(-90, 90), s.u(-90, 90), 0),
        [
          { upTo: 0.72, hu: content },
          { upTo: 1, hu: hu.bowelWall },
        ],
        0.1,
        { within: cavity },
      ),
    );
  }

  // ---- muscles ----------------------------------------------------------------------------------------------------
  for (const side of [1, -1]) {
    add(blob('paraspinal', 0, [side * 32 * sx, yb - 42 * sy, 0], [24 * sx, 22 * sy, 700], R(0, 0, 0, 0), solid(hu.muscle), 0.03, { within: inBody }));
    add(
      ...tube(
        'psoas',
        0,
        [P(side * 26, -36, 12, 2), P(side * 40, -34, -50, 3), P(side * 55, -24, -120, 3), P(side * 62, -10, -185, 3)],
        [7, 14, 20, 18].map((r) => r * size),
        solid(hu.muscle),
        cavity,
      ),
    );
  }

  // ---- skeleton: vertebrae, spinal canal, ribs --------------------------------------------------------------------
  const pitch = s.u(28, 33) * sz;
  const z0 = s.u(0, pitch);
  const bone: Layer[] = [
    { upTo: 0.8, hu: hu.boneCancellous },
    { upTo: 1, hu: hu.boneCortical },
  ];
  const cortical = solid(hu.boneCortical);
  const wallRx = body.halfWidth - body.fatLateral - body.muscleThickness * 0.5;
  const wallRy = body.halfDepth - body.fatAP - body.muscleThickness * 0.5;
  const zRibTop = 20 * sz;
  for (let zv = z0 - 10 * pitch; zv < 330; zv += pitch) {
    const vz = zv + s.n(1);
    add(blob('disc', 0, [0, yb, vz + pitch / 2], [20, 15, pitch * 0.15], R(0, 0, 0, 0), solid(hu.disc), 0.02));
    add(blob('vertebra', 0, [0, yb, vz], [21 * size, 16 * size, pitch * 0.38], R(0, 0, 0, 1), bone, 0.04));
    for (const side of [1, -1]) {
      add(...tube('pedicle', 0, [[side * 11, yb - 12, vz], [side * 12, yb - 27, vz]], [5, 5], cortical));
      add(...tube('lamina', 0, [[side * 12, yb - 27, vz], [0, yb - 37, vz - 3]], [4.5, 4.5], cortical));
      add(...tube('transverse_process', 0, [[side * 12, yb - 24, vz], [side * 42, yb - 28, vz + 2]], [4.5, 3.5], cortical));
    }
    add(...tube('spinous_process', 0, [[0, yb - 37, vz - 3], [0, yb - 60 * sy, vz - 15]], [4.5, 4], cortical, inBody));
    if (vz > zRibTop) {
      // A rib pair at each thoracic level: along the muscle wall from the transverse process, descending anteriorly.
      const floating = vz < zRibTop + 2 * pitch;
      const phiEnd = floating ? s.u(85, 110) : s.u(135, 160);
      const drop = s.u(40, 70);
      for (const side of [1, -1]) {
        const pts: Vec3[] = [];
        const segs = 8;
        for (let t = 0; t <= segs; t++) {
          const phi = ((22 + ((phiEnd - 22) * t) / segs) * Math.PI) / 180;
          pts.push([
            side * wallRx * Math.sin(phi),
            body.centerY - wallRy * Math.cos(phi),
            vz + 4 - drop * ((phi * 180) / Math.PI - 22) ** 1.5 / (phiEnd - 22) ** 1.5,
          ]);
        }
        add(...tube('rib', 0, pts, new Array(pts.length).fill(s.u(4.5, 5.5)), cortical, inBody));
      }
    }
  }
  add(...tube('spinal_canal', 0, [[0, yb - 26, -400], [0, yb - 26, 400]], [8.5, 8.5], solid(hu.csf)));

  // ---- labeled organs ----------------------------------------------------------------------------------------------
  add(blob('liver', L.liver, P(58, 2, 72), A(72, 82, 68), R(0, 0, 0), solid(hu.liver), 0.08));
  add(blob('liver', L.liver, P(-15, 38, 88), A(52, 32, 38), R(0, -10, 0), solid(hu.liver), 0.08));
  // Intrahepatic vessels: liver label, vessel HU, only over liver.
  const hv = P(14, -4, 112, 3);
  for (const tip of [P(82, 28, 95, 8), P(40, 50, 100, 8), P(-22, 42, 104, 8)]) {
    shapes.push(...tube('hepatic_vein', L.liver, [hv, tip], [5, 2.5], solid(hu.ivc)).map((c) => ({ ...c, insideLabel: L.liver })));
  }
  add(blob('spleen', L.spleen, P(-80, -38, 68), A(26, 52, 48), R(0, 0, 37, 8), solid(hu.spleen), 0.09));
  const kidney = (): Layer[] => [
    { upTo: 0.3, hu: hu.renalSinus },
    { upTo: 0.68, hu: hu.kidneyMedulla },
    { upTo: 1, hu: hu.kidneyCortex },
  ];
  add(blob('right_kidney', L.rkid, P(70, -45, -28), A(27, 23, 55), R(10, -12, -20), kidney(), 0.06));
  add(blob('left_kidney', L.lkid, P(-70, -44, -12), A(27, 23, 55), R(10, 12, 20), kidney(), 0.06));
  add(
    blob('stomach', L.sto, P(-48, 30, 68, 7), A(42, 36, 62), R(10, -25, 0, 8), [
      { upTo: 0.88, hu: hu.stomachContent },
      { upTo: 1, hu: hu.stomachWall },
    ], 0.1, { cap: { dir: [0, 1, 0], above: s.u(-5, 18), upTo: 0.88, hu: hu.air } }),
  );
  add(blob('pancreas', L.pancreas, P(18, 8, 2), A(18, 14, 24), R(0, 0, 0), solid(hu.pancreas), 0.08));
  add(
    ...tube(
      'pancreas',
      L.pancreas,
      [P(12, 16, 10, 3), P(-10, 18, 16, 3), P(-35, 10, 24, 3), P(-60, -12, 38, 3)],
      [12, 11, 10, 8].map((r) => r * size),
      solid(hu.pancreas),
    ),
  );
  add(blob('gallbladder', L.gall, P(45, 42, 16), A(16, 16, 36), R(40, 0, 0, 10), solid(hu.gallbladder), 0.08));
  const escLumen = s.bool(0.5) ? hu.air : hu.esophagus;
  add(
    ...tube(
      'esophagus',
      L.eso,
      [P(-5, -22, 180, 2), P(-8, -18, 120, 3), P(-24, -4, 92, 3), P(-36, 14, 78, 3)],
      [8, 8, 8.5, 9],
      [
        { upTo: 0.3, hu: escLumen },
        { upTo: 1, hu: hu.esophagus },
      ],
    ),
  );

  // ---- vessels -------------------------------------------------------------------------------------------------------
  const aortaTop = P(-12, -24, 230, 2);
  const bif = P(-5, -12, -98, 3);
  add(
    ...tube(
      'aorta',
      L.aorta,
      [aortaTop, P(-10, -20, 100, 2), P(-10, -16, 20, 2), P(-8, -14, -60, 2), bif],
      [12.5, 12, 11, 10, 9].map((r) => r * size),
      solid(hu.aorta),
    ),
  );
  for (const side of [1, -1]) {
    add(...tube('iliac_artery', 0, [bif, P(side * 45, -8, -175, 3)], [6.5, 5.5], solid(hu.aorta), cavity));
  }
  add(
    ...tube(
      'ivc',
      L.IVC,
      [P(22, -12, -115, 2), P(22, -10, -20, 2), P(20, -5, 60, 2), P(14, -2, 118, 2), P(8, 0, 140, 2)],
      [10, 12, 13, 12, 12].map((r) => r * size),
      solid(hu.ivc),
    ),
  );
  const confluence = P(-2, 5, 12, 2);
  add(...tube('portal_vein', L.veins, [confluence, P(20, 8, 30, 3), P(38, 5, 48, 3)], [7, 7.5, 6], solid(hu.portalVein)));
  add(
    ...tube(
      'splenic_vein',
      L.veins,
      [confluence, P(-30, 0, 22, 3), P(-58, -18, 40, 3), P(-68, -28, 52, 3)],
      [5, 5, 5, 4.5],
      solid(hu.portalVein),
    ),
  );

  // ---- adrenals last: small, and must not be painted over ------------------------------------------------------------
  add(blob('right_adrenal', L.rad, P(32, -36, 38, 3), A(13, 4.5, 18), R(0, 0, 35, 8), solid(hu.adrenal), 0.05));
  add(blob('left_adrenal', L.lad, P(-30, -38, 30, 3), A(13, 4.5, 18), R(0, 0, -35, 8), solid(hu.adrenal), 0.05));

  return {
    body,
    shapes,
    hu,
    organZRange: [-100 * sz, 140 * sz],
    noiseStd: s.u(10, 20),
  };
}
