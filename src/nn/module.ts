/**
 * A small Module abstraction over TF.js: named parameters whose names are MONAI's state-dict keys
 * (`blocks.3.attn.qkv.weight`), sub-modules, train/eval mode, parameter counting, and loading/saving state dicts in
 * PyTorch layouts (conversion through src/io/checkpoint/layout.ts, the one place that knows them).
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random';
import { fromTorch, toTorch, type TorchKind } from '../io/checkpoint/layout';
import { CheckpointError, type StateDict } from '../io/checkpoint/safetensors';

export interface Param {
  variable: tf.Variable;
  /** How the PyTorch tensor of this parameter is laid out (drives the conversion). */
  kind: TorchKind;
}

/** PyTorch shape of a parameter given ssl3d's shape and its kind. */
function torchShape(shape: number[], kind: TorchKind): number[] {
  switch (kind) {
    case 'conv':
      return [shape[4], shape[3], shape[0], shape[1], shape[2]];
    case 'conv_transpose':
      return [shape[0], shape[4], shape[1], shape[2], shape[3]];
    case 'linear':
      return [shape[1], shape[0]];
    default:
      return shape;
  }
}

export abstract class Module {
  private readonly params = new Map<string, Param>();
  private readonly children = new Map<string, Module>();
  training = true;

  protected addParam(name: string, value: tf.Tensor, kind: TorchKind = 'plain'): tf.Variable {
    const variable = tf.variable(value, true);
    value.dispose();
    this.params.set(name, { variable, kind });
    return variable;
  }

  protected addModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** All parameters with their full dotted names, in registration order (MONAI's state-dict order). */
  namedParameters(prefix = ''): Array<[string, Param]> {
    const out: Array<[string, Param]> = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  variables(): tf.Variable[] {
    return this.namedParameters().map(([, p]) => p.variable);
  }

  numParameters(): number {
    return this.namedParameters().reduce((s, [, p]) => s + p.variable.size, 0);
  }

  train(mode = true): this {
    this.training = mode;
    for (const m of this.children.values()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters in PyTorch layouts under MONAI's key names (what `model.state_dict()` holds in MONAI). */
  stateDict(): StateDict {
    const sd: StateDict = new Map();
    for (const [name, p] of this.namedParameters()) {
      const t = tf.tidy(() => toTorch(p.variable, p.kind));
      sd.set(name, { shape: t.shape, data: t.dataSync() as Float32Array });
      t.dispose();
    }
    return sd;
  }

  /** stateDict() with asynchronous reads: for backends that cannot read synchronously (webgpu in Node). */
  async stateDictAsync(): Promise<StateDict> {
    const sd: StateDict = new Map();
    for (const [name, p] of this.namedParameters()) {
      const t = tf.tidy(() => toTorch(p.variable, p.kind));
      sd.set(name, { shape: t.shape, data: (await t.data()) as Float32Array });
      t.dispose();
    }
    return sd;
  }

  /**
   * Load PyTorch-layout tensors by MONAI key. `strict`: every parameter must be present. Unknown keys are returned
   * (callers decide whether they are fine, e.g. `cross_attn` keys of MONAI ≥ 1.4). Shape mismatches always throw.
   */
  loadStateDict(sd: StateDict, opts: { strict?: boolean; source?: string } = {}): { loaded: string[]; missing: string[]; unexpected: string[] } {
    const source = opts.source ?? '<state dict>';
    const own = new Map(this.namedParameters());
    const loaded: string[] = [];
    const missing: string[] = [];
    for (const [name, p] of own) {
      const t = sd.get(name);
      if (!t) {
        missing.push(name);
        continue;
      }
      const want = torchShape(p.variable.shape, p.kind);
      if (t.shape.length !== want.length || t.shape.some((s, i) => s !== want[i])) {
        throw new CheckpointError(source, `'${name}' has shape [${t.shape}] but the model expects [${want}] (wrong architecture or config?)`);
      }
      tf.tidy(() => p.variable.assign(fromTorch(tf.tensor(t.data, t.shape), p.kind)));
      loaded.push(name);
    }
    if (opts.strict && missing.length) {
      throw new CheckpointError(source, `${missing.length} parameter(s) missing from the checkpoint, e.g. ${missing.slice(0, 5).join(', ')}`);
    }
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    return { loaded, missing, unexpected };
  }

  dispose(): void {
    for (const [, p] of this.namedParameters()) p.variable.dispose();
  }
}

/** PyTorch's default initialisation, from a seeded generator (reproducible). */
export class Init {
  constructor(readonly rng: Random) {}
  uniform(shape: number[], bound: number): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = this.rng.uniform(-bound, bound);
    return tf.tensor(d, shape);
  }
  /** kaiming_uniform(a=√5) weights and U(±1/√fan_in) biases: bound 1/√fan_in. */
  fanIn(shape: number[], fanIn: number): tf.Tensor {
    return this.uniform(shape, 1 / Math.sqrt(fanIn));
  }
  /** trunc_normal(mean 0, std, a=−2, b=2) (absolute bounds: effectively untruncated for std 0.02). */
  truncNormal(shape: number[], std: number): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let v: number;
      do v = this.rng.normal(0, std);
      while (v < -2 || v > 2);
      d[i] = v;
    }
    return tf.tensor(d, shape);
  }
}
