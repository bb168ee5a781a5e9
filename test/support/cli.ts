/**
 * Runs the built CLI (bin/run.js → dist/) as a user would, capturing output and exit status.
 * Asynchronous on purpose: a synchronous spawn blocks the test worker's event loop, and vitest's
 * worker RPC gives up after 60 s without an answer (an `analyze` on a cold shader cache takes longer),
 * which fails a run whose tests all passed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './models.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** `env` adds to this process's environment; a variable given as undefined is removed. */
export function dlprof(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), ...args], { cwd: ROOT, env: childEnv, timeout: 1_190_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ status: code ?? -1, stdout, stderr, json: () => JSON.parse(stdout) });
    });
  });
}

