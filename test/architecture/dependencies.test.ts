/**
 * The one-way data flow (.dependency-cruiser.cjs): src passes the rules, and the rules do catch an
 * import against the flow and an import cycle.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/models.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const depcruise = path.join(ROOT, 'node_modules/.bin/depcruise');
const config = path.join(ROOT, '.dependency-cruiser.cjs');

async function cruise(cwd: string): Promise<{ code: number; out: string }> {
  try {
    const r = await run(depcruise, ['src', '--config', config, '--output-type', 'err'], { cwd });
    return { code: 0, out: r.stdout };
  } catch (e) {
    const x = e as { code: number; stdout: string };
    return { code: x.code, out: x.stdout };
  }
}

function tree(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', allowImportingTsExtensions: true } }));
  return dir;
}

describe('the dependency rules', () => {
  it('hold for src', async () => {
    const r = await cruise(ROOT);
    expect(r.out).toMatch(/no dependency violations found/);
    expect(r.code).toBe(0);
  });

  it('catch an import against the flow, and a cycle', async () => {
    const against = await cruise(tree({
      'src/onnx/load.ts': "import { a } from '../analysis/a.ts';\nexport const b = a;\n",
      'src/analysis/a.ts': 'export const a = 1;\n',
    }));
    expect(against.code).not.toBe(0);
    expect(against.out).toMatch(/onnx-imports-no-later-stage/);
    const cycle = await cruise(tree({
      'src/kernels/x.ts': "import { y } from './y.ts';\nexport const x = () => y;\n",
      'src/kernels/y.ts': "import { x } from './x.ts';\nexport const y = () => x;\n",
    }));
    expect(cycle.code).not.toBe(0);
    expect(cycle.out).toMatch(/no-circular/);
  });

  it('keep the benchmarking code on the executor seam: the Dawn implementation is not theirs to import', async () => {
    const files = {
      'src/gpu/executor.ts': 'export type Step = { n: number };\n',
      'src/gpu/run.ts': 'export class KernelRunner {}\n',
    };
    const direct = await cruise(tree({ ...files, 'src/bench/h.ts': "import { KernelRunner } from '../gpu/run.ts';\nexport const k = KernelRunner;\n" }));
    expect(direct.code).not.toBe(0);
    expect(direct.out).toMatch(/bench-uses-the-executor-seam/);
    const seam = await cruise(tree({ ...files, 'src/bench/h.ts': "import type { Step } from '../gpu/executor.ts';\nexport const s: Step = { n: 1 };\n" }));
    // (tempDir may hold the other tests' trees: only this rule's verdict is asserted.)
    expect(seam.out).not.toMatch(/bench-uses-the-executor-seam/);
  });
});
