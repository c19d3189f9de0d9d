import type { Command } from 'commander';
import * as path from 'node:path';
import { writeReport, type ReportOptions } from '../../viz/report';
import { parseCount } from './synth';

export interface ReportCliOptions {
  out?: string;
  logLines: number;
  maxPoints: number;
  logY?: boolean;
}

/** Write the HTML report of one run folder; returns the path written and a one-line description. */
export async function runReport(runDir: string, o: ReportCliOptions): Promise<{ out: string; message: string }> {
  const opts: ReportOptions = { logLines: o.logLines, maxPoints: o.maxPoints, logY: o.logY };
  const r = await writeReport(runDir, o.out, opts);
  const m = r.run.metrics;
  const notes: string[] = [`${m.records.length} logged steps`];
  if (m.malformed) notes.push(`${m.malformed} malformed metrics line(s) skipped`);
  if (r.run.summary.problem) notes.push(r.run.summary.problem === 'missing' ? 'no summary.json yet' : `summary.json: ${r.run.summary.problem}`);
  if (r.run.config.problem) notes.push(r.run.config.problem === 'missing' ? 'no config.json' : `config.json: ${r.run.config.problem}`);
  return { out: r.out, message: `wrote ${r.out} (${(r.bytes / 1024 ** 2).toFixed(1)} MiB; ${notes.join('; ')})` };
}

export function register(program: Command): void {
  program
    .command('report')
    .description(
      'Write a self-contained HTML report of a training run folder (works offline, plotly.js inlined): config, summary, ' +
        'loss / validation Dice / throughput curves from metrics.jsonl, checkpoints and the end of log.txt',
    )
    .argument('<run_dir>', 'run folder (config.json, metrics.jsonl, summary.json, log.txt, checkpoints/); may be a run in progress')
    .option('-o, --out <file>', 'output HTML file (default: RUN_DIR/report.html)')
    .option('--log-lines <n>', 'how many lines from the end of log.txt to show', parseCount, 60)
    .option('--max-points <n>', 'at most this many points per training curve (bucket means); 0 = every logged step', parseCount, 5000)
    .option('--log-y', 'log-scaled loss axis (default for pretraining runs)')
    .option('--no-log-y', 'linear loss axis (default for fine-tuning runs)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ssl3d report runs/pretrain                      # writes runs/pretrain/report.html\n' +
        '  ssl3d report runs/finetune_6_pretrained_s0 -o finetune.html --log-lines 200',
    )
    .action(async (runDir: string, o: ReportCliOptions) => {
      const r = await runReport(runDir, o);
      process.stdout.write(`${r.message}\nopen: file://${path.resolve(r.out)}\n`);
    });
}
