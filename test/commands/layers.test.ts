import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { fixture, tempDir } from '../support/models.js';
import { schemaErrors } from '../support/schema.js';

/** A user mistake: one clear message, the right exit status, no stack trace. */
async function expectCleanError(args: string[], code: string, exit: number, mentions: string[] = []) {
  const human = await dlprof(args);
  expect(human.status, human.stderr).toBe(exit);
  expect(human.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack trace
  expect(human.stderr).toContain(code);
  for (const m of mentions) expect(human.stderr.replace(/\n\s*›\s*/g, ' ')).toContain(m);
  const json = await dlprof([...args, '--json']);
  expect(json.status).toBe(exit);
  const doc = json.json();
  expect(schemaErrors('error', doc)).toBe('');
  expect(doc.error.code).toBe(code);
}

describe('dlprof layers', () => {
  it('lists the layers of a CNN with a schema-valid --json document', async () => {
    const r = await dlprof(['layers', fixture('resnet-tiny.onnx'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = r.json();
    expect(schemaErrors('layers', doc)).toBe('');
    const [m] = doc.models;
    expect(m.unsupported).toEqual([]);
    expect(m.failed).toEqual([]);
    expect(m.layerCount).toBeGreaterThan(m.uniqueLayerCount);
    expect(m.uniqueLayerCount).toBe(doc.layers.length);
    expect(doc.layers.reduce((s: number, l: { counts: number[] }) => s + l.counts[0], 0)).toBe(m.layerCount);
    expect(m.flops).toBe(doc.layers.reduce((s: number, l: { flops: number; counts: number[] }) => s + l.flops * l.counts[0], 0));
    expect(m.inputs[0].shape.every((d: unknown) => typeof d === 'number')).toBe(true);
    expect(doc.layers.map((l: { op: string }) => l.op)).toContain('Conv');
  });

  it('prints a table with the model summary', async () => {
    const r = await dlprof(['layers', fixture('resnet-tiny.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/layers \d+ \(\d+ unique\)/);
    expect(r.stdout).toContain('Conv');
    expect(r.stdout).not.toMatch(/\x1b\[/); // no colour when not a TTY
  });

  it('shows which layers two models share', async () => {
    const r = await dlprof(['layers', fixture('duplicates-a.onnx'), fixture('duplicates-b.onnx'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = r.json();
    expect(schemaErrors('layers', doc)).toBe('');
    expect(doc.shared.length).toBeGreaterThan(0);
    expect(doc.shared.length).toBeLessThan(doc.layers.length);
    for (const key of doc.shared) {
      const l = doc.layers.find((x: { key: string }) => x.key === key);
      expect(l.counts[0]).toBeGreaterThan(0);
      expect(l.counts[1]).toBeGreaterThan(0);
    }
    const human = await dlprof(['layers', fixture('duplicates-a.onnx'), fixture('duplicates-b.onnx')]);
    expect(human.stdout).toMatch(new RegExp(`${doc.shared.length} of ${doc.layers.length} unique layers are shared`));
  });

  it('requires symbolic dimensions to be bound, and binds them with --dim', async () => {
    await expectCleanError(['layers', fixture('vit-tiny.onnx')], 'E_UNBOUND_DIM', 4, ["'batch'", '--dim batch=N']);
    const r = await dlprof(['layers', fixture('vit-tiny.onnx'), '--dim', 'batch=2', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.models[0].inputs[0].shape[0]).toBe(2);
    expect(doc.models[0].failed).toEqual([]);
    expect(doc.models[0].hostWork.nodes).toBeGreaterThan(0); // the exporter's shape subgraphs were folded
  });

  it('binds unnamed dimensions with --shape', async () => {
    await expectCleanError(['layers', fixture('unnamed-dims.onnx')], 'E_UNBOUND_DIM', 4, ['--shape']);
    const inputs = await dlprof(['layers', fixture('unnamed-dims.onnx'), '--shape', 'nonexistent=1x2']);
    expect(inputs.status).toBe(2);
    expect(inputs.stderr).toContain('E_UNKNOWN_INPUT');
  });

  it('rejects malformed flags with a usage error', async () => {
    await expectCleanError(['layers', fixture('resnet-tiny.onnx'), '--dim', 'batch'], 'E_BAD_FLAG', 2, ['NAME=VALUE']);
    await expectCleanError(['layers', fixture('resnet-tiny.onnx'), '--dim', 'batch=-1'], 'E_BAD_FLAG', 2);
    // oclif's own parse errors: exit 2 too, and under --json a schema-valid E_USAGE document.
    for (const args of [['layers', fixture('resnet-tiny.onnx'), '--no-such-flag'], ['layers']]) {
      const r = await dlprof([...args, '--json']);
      expect(r.status, r.stdout).toBe(2);
      expect(schemaErrors('error', r.json())).toBe('');
      expect(r.json().error).toMatchObject({ code: 'E_USAGE', exit: 2 });
      expect((await dlprof(args)).status).toBe(2);
    }
  });

  describe('bad input files', () => {
    it.each([
      ['empty.onnx', 'E_EMPTY_FILE', 3],
      ['truncated.onnx', 'E_DECODE', 3],
      ['no-graph.onnx', 'E_NOT_ONNX', 3],
      ['cycle.onnx', 'E_GRAPH_CYCLE', 3],
      ['undefined-input.onnx', 'E_UNDEFINED_INPUT', 3],
      ['external-escape.onnx', 'E_EXTERNAL_DATA_PATH', 3],
      ['does-not-exist.onnx', 'E_FILE_NOT_FOUND', 3],
    ])('%s → %s', async (file, code, exit) => {
      await expectCleanError(['layers', fixture(file)], code, exit, [file]);
    });

    it.each(['random.bin', 'not-onnx.pb'])('%s (random bytes; a protobuf of another message type)', async (file) => {
      const r = await dlprof(['layers', fixture(file), '--json']);
      expect(r.status).toBe(3);
      expect(['E_DECODE', 'E_NOT_ONNX']).toContain(r.json().error.code);
      expect(r.json().error.message).toContain(file);
    });

    it('a directory', async () => {
      await expectCleanError(['layers', path.dirname(fixture('x'))], 'E_NOT_A_FILE', 3);
    });

    it('names the offending node of a cycle and of a dangling input', async () => {
      const cyc = (await dlprof(['layers', fixture('cycle.onnx'), '--json'])).json();
      expect(cyc.error.message).toMatch(/node '[^']+'/);
      const und = (await dlprof(['layers', fixture('undefined-input.onnx'), '--json'])).json();
      expect(und.error.message).toMatch(/node '[^']+'.*reads tensor '[^']+'/);
    });
  });

  it('reports an unknown op and still analyzes the rest', async () => {
    const r = await dlprof(['layers', fixture('unknown-op.onnx'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const m = r.json().models[0];
    expect(m.unsupported.map((u: { op: string }) => u.op)).toEqual(['FancyOp']);
    expect(m.unsupported[0].domain).toBe('com.example');
    expect(m.layerCount).toBeGreaterThan(0);
  });

  it('warns, not fails, when an external-data file is missing', async () => {
    const r = await dlprof(['layers', fixture('external-missing.onnx'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json().models[0].warnings.join('\n')).toMatch(/missing/);
    expect(r.json().models[0].layerCount).toBeGreaterThan(0);
  });

  it('escapes markup and control characters from the model in terminal output', async () => {
    const r = await dlprof(['layers', fixture('markup-names.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    const j = await dlprof(['layers', fixture('markup-names.onnx'), '--json']);
    expect(() => j.json()).not.toThrow();
  });

  it('--emit writes one spec and one single-node model per unique layer, plus an index', async () => {
    const dir = path.join(tempDir(), 'suite');
    const r = await dlprof(['layers', fixture('resnet-tiny.onnx'), '--emit', dir, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = r.json();
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(index.layers.map((l: { key: string }) => l.key).sort()).toEqual(doc.layers.map((l: { key: string }) => l.key).sort());
    for (const l of index.layers) {
      expect(fs.statSync(path.join(dir, l.model)).size).toBeLessThan(4096); // weights are inputs: tiny files
      const spec = JSON.parse(fs.readFileSync(path.join(dir, l.spec), 'utf8'));
      expect(spec.key).toBe(l.key);
      expect(spec.sources[0].count).toBeGreaterThan(0);
    }
  });
});
