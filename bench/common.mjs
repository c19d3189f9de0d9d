// Shared by the bench scripts: `--help`, running one measurement in a child process, and the worker/driver entry.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `--help` / `-h`: prints the comment block at the top of the calling script and exits. */
export function helpIfAsked(scriptUrl, argv = process.argv.slice(2)) {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const lines = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n').slice(1);
  const end = lines.findIndex((l) => !l.startsWith('//'));
  process.stdout.write(lines.slice(0, end < 0 ? lines.length : end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(0);
}

/**
 * Runs one measurement (`cmd argv`) with a time limit and returns its last JSON line. A job that fails or is killed
 * returns `{ error }`, merged into its last `{"partial": true, ...}` line if it printed one; a limit ≤ 0 skips it.
 */
export function runJob(cmd, argv, env, timeoutS) {
  if (!(timeoutS > 0)) return { error: 'skipped (deadline)' };
  const t = performance.now();
  const p = spawnSync(cmd, argv, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  const wall = (performance.now() - t) / 1000;
  const lines = (p.stdout || '').trim().split('\n').filter((l) => l.startsWith('{'));
  const line = lines.filter((l) => !l.startsWith('{"partial"')).pop();
  if (p.status !== 0 || !line) {
    const why = p.error?.code === 'ETIMEDOUT' || p.signal ? `killed (${p.signal ?? 'timeout'}) after ${wall.toFixed(0)} s` : `exit ${p.status}`;
    const err = (p.stderr || '').trim().split('\n');
    // the message (the first line naming an error), then where it was thrown (the last lines of the stack)
    const message = (err.find((l) => /^\s*(\w*Error|error)\b:?/.test(l)) ?? err.find((l) => /\w*Error\b/.test(l)))?.trim().slice(0, 500);
    const tail = err.slice(-3).join(' | ');
    process.stderr.write(`  failed: ${why}${message ? ': ' + message : ''}${tail ? ' | at: ' + tail : ''}\n`);
    const last = lines.filter((l) => l.startsWith('{"partial"')).pop();
    const error = message ? `${why}: ${message}` : why;
    return last ? { ...JSON.parse(last), error } : { error };
  }
  return JSON.parse(line);
}

/** `--worker JSON` runs `worker(job)` (one measurement in this process); otherwise `main()` drives the jobs. */
export function runWorkerOrMain(args, worker, main) {
  const i = args.indexOf('--worker');
  const run = i >= 0 ? () => worker(JSON.parse(args[i + 1])) : main;
  run().catch((e) => {
    process.stderr.write((e && e.stack) || String(e));
    process.exit(1);
  });
}
