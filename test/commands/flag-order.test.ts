/**
 * Flags before or after the model paths: oclif's repeatable flags are greedy unless declared
 * non-greedy, and a greedy one swallows the path that follows it ("Missing 1 required arg").
 * Every repeatable flag of every command is checked, and each command is run with its repeatable
 * flags on both sides of its paths (cases that stop before the GPU, where they can).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { fixture, ROOT, tempDir } from '../support/models.js';

/** The model part of a layers document (paths differ only in where they were given). */
const models = (doc: { models: unknown[]; layers: unknown[] }) => ({ models: doc.models, layers: doc.layers });

describe('repeatable flags are non-greedy on every command', () => {
  it('declares multipleNonGreedy wherever a flag is multiple', async () => {
    const dir = path.join(ROOT, 'dist/src/commands');
    const ids = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.js'));
    const repeatable: string[] = [];
    for (const id of ids) {
      const cmd = (await import(path.join(dir, id))).default;
      for (const [name, f] of Object.entries({ ...cmd.baseFlags, ...cmd.flags }) as Array<[string, { multiple?: boolean; multipleNonGreedy?: boolean }]>) {
        if (!f.multiple) continue;
        repeatable.push(`${id}:${name}`);
        expect(f.multipleNonGreedy, `${id} --${name}`).toBe(true);
      }
    }
    expect(repeatable).toEqual(expect.arrayContaining(['layers.js:dim', 'layers.js:shape', 'layers.js:value', 'analyze.js:dim', 'bench.js:op', 'bench.js:variant']));
  });
});

describe('dlprof layers: flags before and after the models', () => {
  it('--dim', async () => {
    const before = await dlprof(['layers', '--dim', 'batch=1', fixture('vit-tiny.onnx'), '--json']);
    const after = await dlprof(['layers', fixture('vit-tiny.onnx'), '--dim', 'batch=1', '--json']);
    expect(before.status, before.stderr).toBe(0);
    expect(after.status, after.stderr).toBe(0);
    expect(before.json().models[0].inputs[0].shape[0]).toBe(1);
    expect(models(before.json())).toEqual(models(after.json()));
  });

  it('--shape, repeated, between two models', async () => {
    const args = ['--shape', 'input=1x3x32x32', '--shape', 'input=1x3x32x32'];
    const before = await dlprof(['layers', ...args, fixture('unnamed-dims.onnx'), fixture('resnet-tiny.onnx'), '--json']);
    const between = await dlprof(['layers', fixture('unnamed-dims.onnx'), ...args, fixture('resnet-tiny.onnx'), '--json']);
    expect(before.status, before.stderr).toBe(0);
    expect(between.status, between.stderr).toBe(0);
    expect(before.json().models).toHaveLength(2);
    expect(before.json().models[0].inputs[0].shape).toEqual([1, 3, 32, 32]);
    expect(models(before.json())).toEqual(models(between.json()));
  });

  it('--value and --defaults', async () => {
    const before = await dlprof(['layers', '--value', 'sample_rate=16000', '--defaults', fixture('if-gated.onnx'), '--json']);
    const after = await dlprof(['layers', fixture('if-gated.onnx'), '--defaults', '--value', 'sample_rate=16000', '--json']);
    expect(before.status, before.stderr).toBe(0);
    expect(after.status, after.stderr).toBe(0);
    expect(before.json().models[0].layerCount).toBeGreaterThan(1);
    expect(models(before.json())).toEqual(models(after.json()));
    const human = await dlprof(['layers', '--defaults', fixture('vit-tiny.onnx')]);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain("warning: --defaults bound 'batch' to 1");
  });

  it('a flag that needs a value still says so when it has none', async () => {
    const r = await dlprof(['layers', fixture('vit-tiny.onnx'), '--dim']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--dim');
  });
});

/**
 * analyze and bench: the input named in --shape does not exist, so the command stops with an error
 * naming both the model file and the flag's input, after parsing and before any GPU work: proof
 * that the path reached the command as its argument and the flag as a flag.
 */
describe.each(['analyze', 'bench'])('dlprof %s: flags before and after the model', (command) => {
  const db = path.join(tempDir(), 'flags.sqlite');
  const repeatable = command === 'bench' ? ['--op', 'Conv', '--op', 'Relu', '--variant', 'direct'] : [];
  const flags = ['--dim', 'batch=1', '--value', 'nope=3', ...repeatable, '--db', db];

  it.each([
    ['before', [...flags, fixture('resnet-tiny.onnx')]],
    ['after', [fixture('resnet-tiny.onnx'), ...flags]],
  ])('%s', async (_, args) => {
    const r = await dlprof([command, ...args, '--json']);
    expect(r.status, r.stderr).toBe(2);
    const doc = r.json();
    expect(doc.error.code).toBe('E_UNKNOWN_INPUT');
    expect(doc.error.message).toContain('resnet-tiny.onnx');
    expect(doc.error.message).toContain("--value names input 'nope'");
    expect(fs.existsSync(db)).toBe(false);
  });
});
