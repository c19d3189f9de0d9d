/**
 * Progress reporting for the training loops: a cli-progress bar with ETA on a terminal, plain log lines otherwise
 * (CI logs), nothing in quiet mode. The loops only call `start/update/stop/line`.
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  start(total: number, value: number, label: string): void;
  update(value: number, status: string): void;
  stop(): void;
  /** A line of text (printed above the bar on a terminal). */
  line(text: string): void;
}

export const silentProgress: Progress = { start() {}, update() {}, stop() {}, line() {} };

export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
  /** Without a TTY, print a status line every this many seconds (default 30). */
  plainEverySeconds?: number;
}

export function createProgress(opts: ProgressOptions = {}): Progress {
  if (opts.quiet) return silentProgress;
  const stream = opts.stream ?? process.stderr;
  if (!stream.isTTY) {
    let last = 0;
    let total = 0;
    let label = '';
    const every = (opts.plainEverySeconds ?? 30) * 1000;
    const t0 = Date.now();
    return {
      start(t, _v, l) {
        total = t;
        label = l;
      },
      update(v, status) {
        const now = Date.now();
        if (now - last < every && v < total) return;
        last = now;
        const el = (now - t0) / 1000;
        const eta = v > 0 ? (el / v) * (total - v) : NaN;
        stream.write(`${label} ${v}/${total} | ${el.toFixed(0)} s elapsed | ETA ${Number.isFinite(eta) ? eta.toFixed(0) + ' s' : '?'} | ${status}\n`);
      },
      stop() {},
      line(text) {
        stream.write(text + '\n');
      },
    };
  }
  const bar = new SingleBar({
    format: '{label} [{bar}] {value}/{total} | {duration_formatted} elapsed | ETA {eta_formatted} | {status}',
    stream,
    hideCursor: null,
    clearOnComplete: false,
    etaBuffer: 50,
  });
  let running = false;
  return {
    start(total, value, label) {
      bar.start(total, value, { label, status: '' });
      running = true;
    },
    update(value, status) {
      bar.update(value, { status });
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
    line(text) {
      if (running) {
        // cli-progress has no log-above API: clear the line, print, redraw.
        stream.write('\r\x1b[2K' + text + '\n');
        bar.render();
      } else stream.write(text + '\n');
    },
  };
}
