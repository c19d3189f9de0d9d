/**
 * PyTorch's `torch.optim.Adam` and `torch.optim.AdamW` (amsgrad=False, maximize=False), update for update:
 *
 *   t += 1
 *   AdamW only: θ ← θ · (1 − lr·wd)                      (decoupled decay on every parameter)
 *   Adam with wd > 0: g ← g + wd·θ                        (L2, as torch.optim.Adam)
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 *
 * TF.js's own Adam folds the bias correction differently and has no decoupled decay; writing it out keeps the
 * trajectory equal to PyTorch's (test/train/optim.test.ts, fixtures from scripts/reference/make_optim_fixtures.py)
 * and makes the state (step count + moments keyed by parameter name) easy to save and restore exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { StateDict } from '../io/checkpoint/safetensors';

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** true = AdamW (decoupled weight decay), false = Adam (L2 added to the gradient). */
  decoupled?: boolean;
}

/** The hyper-parameters and step count (JSON), the moments go to a tensor file. */
export interface OptimizerState {
  type: 'Adam' | 'AdamW';
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
  step: number;
}

interface Slot {
  name: string;
  param: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
}

export class Adam {
  readonly type: 'Adam' | 'AdamW';
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  step = 0;
  private readonly slots: Slot[];

  constructor(params: Array<[string, tf.Variable]>, opts: AdamOptions) {
    this.type = opts.decoupled ? 'AdamW' : 'Adam';
    this.lr = opts.lr;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? (opts.decoupled ? 0.01 : 0);
    this.slots = params.map(([name, param]) => ({
      name,
      param,
      m: tf.variable(tf.zerosLike(param), false),
      v: tf.variable(tf.zerosLike(param), false),
    }));
  }

  get variables(): tf.Variable[] {
    return this.slots.map((s) => s.param);
  }

  /** Apply one update; `grads` maps each parameter's variable name (tf) to its gradient. Does not dispose grads. */
  apply(grads: Record<string, tf.Tensor>): void {
    this.step += 1;
    const [b1, b2] = this.betas;
    const bc1 = 1 - Math.pow(b1, this.step);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, this.step));
    const stepSize = this.lr / bc1;
    const decay = this.type === 'AdamW' ? 1 - this.lr * this.weightDecay : 1;
    for (const s of this.slots) {
      const g0 = grads[s.param.name];
      if (!g0) continue; // parameter unused in this step (PyTorch skips params whose grad is None)
      tf.tidy(() => {
        let theta: tf.Tensor = s.param;
        let g: tf.Tensor = g0;
        if (this.type === 'AdamW' && this.weightDecay !== 0) theta = tf.mul(theta, decay);
        if (this.type === 'Adam' && this.weightDecay !== 0) g = tf.add(g, tf.mul(theta, this.weightDecay));
        const m = tf.add(tf.mul(s.m, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(s.v, b2), tf.mul(tf.square(g), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), this.eps);
        s.m.assign(m);
        s.v.assign(v);
        s.param.assign(tf.sub(theta, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
  }

  state(): OptimizerState {
    return { type: this.type, lr: this.lr, betas: this.betas, eps: this.eps, weight_decay: this.weightDecay, step: this.step };
  }

  /** The moments as a state dict (`exp_avg.<param>`, `exp_avg_sq.<param>`; shapes as the parameters' in TF.js). */
  async moments(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const s of this.slots) {
      out.set(`exp_avg.${s.name}`, { shape: s.m.shape.slice(), data: (await s.m.data()) as Float32Array });
      out.set(`exp_avg_sq.${s.name}`, { shape: s.v.shape.slice(), data: (await s.v.data()) as Float32Array });
    }
    return out;
  }

  /** Restore what `state()` and `moments()` returned (throws naming the first missing/mismatched tensor). */
  load(state: OptimizerState, moments: StateDict, source = '<optimizer state>'): void {
    if (state.type !== this.type) throw new Error(`${source}: optimizer is ${state.type}, this run uses ${this.type}`);
    for (const s of this.slots) {
      for (const [key, target] of [
        [`exp_avg.${s.name}`, s.m],
        [`exp_avg_sq.${s.name}`, s.v],
      ] as const) {
        const t = moments.get(key);
        if (!t) throw new Error(`${source}: missing optimizer tensor '${key}'`);
        if (t.shape.join(',') !== target.shape.join(',')) {
          throw new Error(`${source}: '${key}' has shape [${t.shape}], the model needs [${target.shape}]`);
        }
        tf.tidy(() => target.assign(tf.tensor(t.data, target.shape)));
      }
    }
    this.step = state.step;
    this.lr = state.lr;
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
    }
  }
}
