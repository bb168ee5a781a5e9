/** One temp dir per test file, made on first use and removed after the file (setup file temp-cleanup.ts). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let tmp: string | undefined;

export function tempDir(): string {
  tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-test-'));
  return tmp;
}

export function removeTempDir(): void {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}
