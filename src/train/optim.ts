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
import { NativeAdamState, nativeAdamBackend } from '../backend/native_adam';
import { NATIVE_ADAM_GROUP, type AdamGroupAttrs } from '../backend/native_ops';

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** true = AdamW (decoupled weight decay), false = Adam (L2 added to the gradient). */
  decoupled?: boolean;
  /**
   * Parameters with at most this many elements are updated together as one flat vector (one set of ~11 ops instead
   * of ~11 per parameter: biases, norms and small kernels are most of a network's tensors but little of its size,
   * and on TF.js every op has a fixed cost). The arithmetic per element is the same, so the result is bit-identical
   * to updating them one by one. Default 2^18 (1 MiB); 0 = every parameter on its own.
   */
  flatMaxElements?: number;
  /**
   * Native backend only: update the large parameters with TensorFlow's fused ResourceApplyAdam (default true; also
   * `SSL3D_NATIVE_KERNELS` family `adam`). false = TF.js ops everywhere.
   */
  native?: boolean;
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

/** A large parameter: its moments as TF.js variables, or (native backend) with it in TensorFlow resource variables. */
type Slot = { name: string; param: tf.Variable } & ({ m: tf.Variable; v: tf.Variable; native?: undefined } | { native: NativeAdamState; m?: undefined; v?: undefined });

/** The small parameters as one flat vector: moments live flat, parameters are gathered and scattered each step. */
interface FlatGroup {
  params: Array<{ name: string; param: tf.Variable; offset: number; size: number }>;
  m: tf.Variable;
  v: tf.Variable;
  size: number;
}

/** A tensor as a vector; 1-D tensors as they are (a reshape is a kernel call even when it changes nothing). */
function flat(t: tf.Tensor): tf.Tensor {
  return t.rank === 1 ? t : tf.reshape(t, [-1]);
}

export class Adam {
  readonly type: 'Adam' | 'AdamW';
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  step = 0;
  private readonly slots: Slot[];
  private readonly flat: FlatGroup | null;
  /** TensorFlow's fused updates allowed (native backend; AdamOptions.native) */
  private readonly native: boolean;

  constructor(params: Array<[string, tf.Variable]>, opts: AdamOptions) {
    this.type = opts.decoupled ? 'AdamW' : 'Adam';
    this.lr = opts.lr;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? (opts.decoupled ? 0.01 : 0);
    const limit = opts.flatMaxElements ?? 2 ** 18;
    const small = params.filter(([, p]) => p.size <= limit);
    const large = small.length > 1 ? params.filter(([, p]) => p.size > limit) : params;
    // native backend: large parameters through TensorFlow's fused ResourceApplyAdam (src/backend/native_adam.ts)
    this.native = opts.native !== false;
    const nativeBackend = this.native ? nativeAdamBackend() : null;
    this.slots = large.map(([name, param]): Slot => {
      if (nativeBackend && param.dtype === 'float32') return { name, param, native: new NativeAdamState(nativeBackend, param.shape) };
      return {
        name,
        param,
        m: tf.tidy(() => tf.variable(tf.zerosLike(param), false)), // tidy: the zeros tensor itself is not kept
        v: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
      };
    });
    if (small.length > 1) {
      let offset = 0;
      const list = small.map(([name, param]) => {
        const e = { name, param, offset, size: param.size };
        offset += param.size;
        return e;
      });
      this.flat = { params: list, m: tf.tidy(() => tf.variable(tf.zeros([offset]), false)), v: tf.tidy(() => tf.variable(tf.zeros([offset]), false)), size: offset };
    } else this.flat = null;
  }

  get variables(): tf.Variable[] {
    return [...this.slots.map((s) => s.param), ...(this.flat?.params.map((p) => p.param) ?? [])];
  }

  /** Apply one update; `grads` maps each parameter's variable name (tf) to its gradient. Does not dispose grads. */
  apply(grads: Record<string, tf.Tensor>): void {
    this.step += 1;
    for (const s of this.slots) {
      const g0 = grads[s.param.name];
      if (!g0) continue; // parameter unused in this step (PyTorch skips params whose grad is None)
      const native = s.native;
      if (native) {
        tf.tidy(() => {
          const { theta, g } = this.weightDecayed(s.param, g0);
          s.param.assign(native.step(theta, g, { lr: this.lr, beta1: this.betas[0], beta2: this.betas[1], eps: this.eps, step: this.step }));
        });
        continue;
      }
      const { m: m0, v: v0 } = s;
      tf.tidy(() => {
        const { m, v, theta } = this.update(s.param, g0, m0, v0);
        m0.assign(m);
        v0.assign(v);
        s.param.assign(theta);
      });
    }
    if (this.flat) this.applyFlat(this.flat, grads);
  }

  /** Weight decay before the Adam step: AdamW shrinks θ (decoupled), Adam adds wd·θ to the gradient (L2). */
  private weightDecayed(param: tf.Tensor, g: tf.Tensor): { theta: tf.Tensor; g: tf.Tensor } {
    if (this.weightDecay === 0) return { theta: param, g };
    if (this.type === 'AdamW') return { theta: tf.mul(param, 1 - this.lr * this.weightDecay), g };
    return { theta: param, g: tf.add(g, tf.mul(param, this.weightDecay)) };
  }

  /** PyTorch's bias correction at this step: lr / (1 − β1ᵗ) and √(1 − β2ᵗ). */
  private biasCorrection(): { stepSize: number; bc2Sqrt: number } {
    const [b1, b2] = this.betas;
    return { stepSize: this.lr / (1 - Math.pow(b1, this.step)), bc2Sqrt: Math.sqrt(1 - Math.pow(b2, this.step)) };
  }

  /** The update of one tensor (a parameter or the flat vector): new moments and parameter values. */
  private update(param: tf.Tensor, g0: tf.Tensor, m0: tf.Tensor, v0: tf.Tensor): { m: tf.Tensor; v: tf.Tensor; theta: tf.Tensor } {
    const [b1, b2] = this.betas;
    const { stepSize, bc2Sqrt } = this.biasCorrection();
    const { theta, g } = this.weightDecayed(param, g0);
    const m = tf.add(tf.mul(m0, b1), tf.mul(g, 1 - b1));
    const v = tf.add(tf.mul(v0, b2), tf.mul(tf.square(g), 1 - b2));
    const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), this.eps);
    return { m, v, theta: tf.sub(theta, tf.mul(tf.div(m, denom), stepSize)) };
  }

  /**
   * The small parameters in one update. A parameter without a gradient this step keeps its value and moments
   * (PyTorch skips it), through a 0/1 mask; that only happens when a network leaves a parameter unused.
   */
  private applyFlat(f: FlatGroup, grads: Record<string, tf.Tensor>): void {
    const missing = f.params.filter((p) => !grads[p.param.name]);
    if (missing.length === f.params.length) return;
    if (!missing.length && this.native && tf.getKernel(NATIVE_ADAM_GROUP, tf.getBackend()) && f.params.every((p) => p.param.dtype === 'float32')) {
      this.applyFlatNative(f, grads);
      return;
    }
    tf.tidy(() => {
      const g = tf.concat(f.params.map((p) => (grads[p.param.name] ? flat(grads[p.param.name]) : tf.zeros([p.size]))));
      const theta0 = tf.concat(f.params.map((p) => flat(p.param)));
      let { m, v, theta } = this.update(theta0, g, f.m, f.v);
      if (missing.length) {
        const keep = tf.concat(f.params.map((p) => (grads[p.param.name] ? tf.ones([p.size]) : tf.zeros([p.size]))));
        const pick = (updated: tf.Tensor, old: tf.Tensor) => tf.where(tf.cast(keep, 'bool'), updated, old);
        m = pick(m, f.m);
        v = pick(v, f.v);
        theta = pick(theta, theta0);
      }
      f.m.assign(m);
      f.v.assign(v);
      const parts = tf.split(theta, f.params.map((p) => p.size));
      f.params.forEach((p, i) => p.param.assign(p.param.rank === 1 ? parts[i] : tf.reshape(parts[i], p.param.shape)));
    });
  }

  /**
   * Native backend with ssl3d's op library: the same update as applyFlat's in one TensorFlow op (Ssl3dAdamGroup,
   * src/backend/native_ops.ts), bit-identical, without the concats, the split and a reshape per parameter.
   */
  private applyFlatNative(f: FlatGroup, grads: Record<string, tf.Tensor>): void {
    const [b1, b2] = this.betas;
    const decoupled = this.type === 'AdamW' && this.weightDecay !== 0;
    const attrs: AdamGroupAttrs = {
      beta1: b1,
      beta2: b2,
      oneMinusBeta1: 1 - b1,
      oneMinusBeta2: 1 - b2,
      eps: this.eps,
      ...this.biasCorrection(),
      decayFactor: decoupled ? 1 - this.lr * this.weightDecay : 1,
      l2: this.type === 'Adam' ? this.weightDecay : 0,
    };
    const inputs: Record<string, tf.Tensor> = { m: f.m, v: f.v };
    f.params.forEach((p, i) => {
      inputs[`p${i}`] = p.param;
      inputs[`g${i}`] = grads[p.param.name];
    });
    tf.tidy(() => {
      const outs = tf.engine().runKernel(NATIVE_ADAM_GROUP, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      f.params.forEach((p, i) => p.param.assign(outs[i]));
      f.m.assign(outs[f.params.length]);
      f.v.assign(outs[f.params.length + 1]);
    });
  }

  state(): OptimizerState {
    return { type: this.type, lr: this.lr, betas: this.betas, eps: this.eps, weight_decay: this.weightDecay, step: this.step };
  }

  /** The moments as a state dict (`exp_avg.<param>`, `exp_avg_sq.<param>`; shapes as the parameters' in TF.js). */
  async moments(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const s of this.slots) {
      const [m, v] = s.native ? [s.native.moment('m'), s.native.moment('v')] : [s.m, s.v];
      out.set(`exp_avg.${s.name}`, { shape: m.shape.slice(), data: (await m.data()) as Float32Array });
      out.set(`exp_avg_sq.${s.name}`, { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
      if (s.native) tf.dispose([m, v]);
    }
    if (this.flat) {
      const m = (await this.flat.m.data()) as Float32Array;
      const v = (await this.flat.v.data()) as Float32Array;
      for (const p of this.flat.params) {
        out.set(`exp_avg.${p.name}`, { shape: p.param.shape.slice(), data: m.slice(p.offset, p.offset + p.size) });
        out.set(`exp_avg_sq.${p.name}`, { shape: p.param.shape.slice(), data: v.slice(p.offset, p.offset + p.size) });
      }
    }
    return out;
  }

  /** Restore what `state()` and `moments()` returned (throws naming the first missing/mismatched tensor). */
  load(state: OptimizerState, moments: StateDict, source = '<optimizer state>'): void {
    if (state.type !== this.type) throw new Error(`${source}: optimizer is ${state.type}, this run uses ${this.type}`);
    const get = (key: string, shape: number[]) => {
      const t = moments.get(key);
      if (!t) throw new Error(`${source}: missing optimizer tensor '${key}'`);
      if (t.shape.join(',') !== shape.join(',')) throw new Error(`${source}: '${key}' has shape [${t.shape}], the model needs [${shape}]`);
      return t.data;
    };
    // check everything before changing anything
    const slotData = this.slots.map((s) => [get(`exp_avg.${s.name}`, s.param.shape), get(`exp_avg_sq.${s.name}`, s.param.shape)] as const);
    let flatData: [Float32Array, Float32Array] | null = null;
    if (this.flat) {
      const m = new Float32Array(this.flat.size),
        v = new Float32Array(this.flat.size);
      for (const p of this.flat.params) {
        m.set(get(`exp_avg.${p.name}`, p.param.shape), p.offset);
        v.set(get(`exp_avg_sq.${p.name}`, p.param.shape), p.offset);
      }
      flatData = [m, v];
    }
    this.slots.forEach((s, i) => {
      const { m, v, native } = s;
      tf.tidy(() => {
        const [mt, vt] = [tf.tensor(slotData[i][0], s.param.shape), tf.tensor(slotData[i][1], s.param.shape)];
        if (native) {
          native.setMoment('m', mt);
          native.setMoment('v', vt);
        } else {
          m!.assign(mt);
          v!.assign(vt);
        }
      });
    });
    if (this.flat && flatData) {
      const f = this.flat;
      tf.tidy(() => f.m.assign(tf.tensor1d(flatData![0])));
      tf.tidy(() => f.v.assign(tf.tensor1d(flatData![1])));
    }
    this.step = state.step;
    this.lr = state.lr;
  }

  dispose(): void {
    for (const s of this.slots) {
      s.native?.dispose();
      s.m?.dispose();
      s.v?.dispose();
    }
    this.flat?.m.dispose();
    this.flat?.v.dispose();
  }
}
