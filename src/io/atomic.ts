/**
 * Atomic file writes: the bytes go to a unique temporary file in the same folder, which is then renamed over the
 * target, so a crash or a concurrent writer never leaves a half-written file under the final name. Throws the
 * underlying error (callers wrap it in their typed errors); the temporary file is removed on failure.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';

export async function writeFileAtomic(file: string, bytes: Uint8Array | string, options: { mkdir?: boolean } = {}): Promise<void> {
  const dir = path.dirname(file);
  if (options.mkdir) await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${threadId}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync(); // the data is on disk before the name points at it
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
