import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { describeBackend, initBackend } from '../../backend/select';
import { ArgumentError, ConfigError } from '../../errors';
import { fromTorch, toTorch } from '../../io/checkpoint/layout';
import { readNpy, writeNpy } from '../../io/npy';
import { loadCheckpoint } from '../../nn/checkpoint';
import { UNETR, ViTAutoEnc, type UNETRConfig, type ViTAutoEncConfig } from '../../nn';

export interface InferOptions {
  arch: string;
  archJson: string;
  weights: string;
  input: string;
  output: string;
}

/** Raw forward pass in eval mode: (B, C, X, Y, Z) .npy in → reconstruction or logits .npy out (MONAI layout). */
export async function runInfer(o: InferOptions, log: (s: string) => void = () => undefined): Promise<number[]> {
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(o.archJson, 'utf8'));
  } catch (e) {
    throw new ConfigError(o.archJson, [(e as Error).message]);
  }
  const { tf, info } = await initBackend();
  log(describeBackend(info));
  const model = o.arch === 'vitautoenc' ? new ViTAutoEnc(cfg as unknown as ViTAutoEncConfig) : o.arch === 'unetr' ? new UNETR(cfg as unknown as UNETRConfig) : undefined;
  if (!model) throw new ArgumentError(`--arch must be vitautoenc or unetr, got '${o.arch}'`);
  const report = await loadCheckpoint(model, o.weights);
  log(`loaded ${report.loaded.length} tensors from ${o.weights}` + (report.ignored.length ? ` (ignored ${report.ignored.length} unused: ${report.ignored.slice(0, 3).join(', ')}…)` : ''));
  model.eval();
  const x = await readNpy(o.input);
  if (x.shape.length !== 5) throw new ArgumentError(`${o.input}: expected a (B, C, X, Y, Z) array, got shape (${x.shape.join(', ')})`);
  const y = tf.tidy(() => {
    const inp = fromTorch(tf.tensor(x.data, x.shape), 'activation') as import('@tensorflow/tfjs').Tensor5D;
    const r = model.forward(inp);
    return toTorch('out' in (r as object) ? (r as { out: import('@tensorflow/tfjs').Tensor5D }).out : (r as import('@tensorflow/tfjs').Tensor5D), 'activation');
  });
  const data = (await y.data()) as Float32Array;
  const shape = y.shape;
  y.dispose();
  model.dispose();
  await writeNpy(o.output, data, shape);
  return shape;
}

export function register(program: Command): void {
  program
    .command('infer')
    .description('Run a network forward pass (eval mode) on a NumPy array and write the raw output (.npy, MONAI layout)')
    .requiredOption('--arch <name>', 'vitautoenc or unetr')
    .requiredOption('--arch-json <file>', 'JSON object of MONAI constructor arguments, e.g. {"in_channels":1,"img_size":[32,32,32],...}')
    .requiredOption('--weights <file>', 'checkpoint: .safetensors (ssl3d) or .pt/.pth (PyTorch, MONAI keys)')
    .requiredOption('--input <file>', '(B, C, X, Y, Z) float32 .npy')
    .requiredOption('--output <file>', 'output .npy: reconstruction (vitautoenc) or logits (unetr), (B, C, X, Y, Z)')
    .addHelpText(
      'after',
      '\nExample:\n  ssl3d infer --arch unetr --arch-json unetr.json --weights best_metric_model.pth --input x.npy --output logits.npy',
    )
    .action(async (o: InferOptions) => {
      const shape = await runInfer(o, (s) => process.stderr.write(s + '\n'));
      process.stdout.write(`wrote ${o.output} (${shape.join('×')})\n`);
    });
}
