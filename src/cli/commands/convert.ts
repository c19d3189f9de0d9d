import type { Command } from 'commander';
import { saveSafetensors } from '../../io/checkpoint/safetensors';
import { loadTorchCheckpoint } from '../../io/checkpoint/torch';

export interface ConvertResult {
  tensors: number;
  skipped: string[];
  extra: Record<string, unknown>;
}

/** Convert a `torch.save` checkpoint's state dict to safetensors (float32, names and PyTorch layouts kept). */
export async function runConvert(input: string, output: string): Promise<ConvertResult> {
  const { tensors, extra, skipped } = await loadTorchCheckpoint(input);
  const metadata: Record<string, string> = { source: 'ssl3d convert', format: 'pt' };
  for (const [k, v] of Object.entries(extra)) metadata[k] = String(v);
  await saveSafetensors(output, tensors, metadata);
  return { tensors: tensors.size, skipped, extra };
}

export function register(program: Command): void {
  program
    .command('convert')
    .description("Convert a PyTorch checkpoint (torch.save zip format, .pt/.pth) to safetensors, keeping tensor names and PyTorch layouts (as float32)")
    .argument('<in>', 'PyTorch checkpoint: a state dict, or a dict with a "state_dict" entry (e.g. the tutorial\'s vitautoenc_weights.pt)')
    .argument('<out>', 'output .safetensors file')
    .addHelpText('after', '\nExample:\n  ssl3d convert vitautoenc_weights.pt vitautoenc_weights.safetensors')
    .action(async (input: string, output: string) => {
      const r = await runConvert(input, output);
      const extras = Object.entries(r.extra).map(([k, v]) => `${k}=${v}`);
      process.stdout.write(
        `wrote ${output}: ${r.tensors} tensors` +
          (extras.length ? ` (kept as metadata: ${extras.join(', ')})` : '') +
          '\n' +
          (r.skipped.length ? `skipped ${r.skipped.length} non-tensor entries: ${r.skipped.join(', ')}\n` : 'skipped 0 non-tensor entries\n'),
      );
    });
}
