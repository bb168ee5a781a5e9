/**
 * Input values that gate the graph (--value), and --defaults: an If on a scalar input inlines the
 * branch the bound value selects, a Loop whose trip count is an input unrolls, a graph gated on an
 * input without a value says which input to bind, and bad values are refused naming the input.
 */
import { describe, expect, it } from 'vitest';
import { modelBindings } from '../../src/cli/flags.js';
import { loadGraph } from '../../src/kernels/model.js';
import { GraphBuilder } from '../../src/onnx/write.js';
import { DlprofError } from '../../src/util/errors.js';
import { fixture, saveModel } from '../support/models.js';

const gated = fixture('if-gated.onnx');
const ops = (g: ReturnType<typeof loadGraph>) => g.nodes.map((n) => n.op);

describe('--value on a graph under an If', () => {
  it('without a value: one layer, the If untimed, and a warning naming the input to bind', () => {
    const g = loadGraph(gated, modelBindings({}));
    expect(g.controlFlow).toEqual([expect.objectContaining({ op: 'If', inlined: false })]);
    expect(ops(g)).toEqual(['Equal']);
    const w = g.diagnostics.find((d) => d.code === 'W_GATED_ON_INPUT');
    expect(w?.message).toContain("input 'sample_rate' (int64 scalar)");
    expect(w?.message).toContain('--value sample_rate=V');
  });

  it('folds the condition and analyzes the branch the value selects', () => {
    const hi = loadGraph(gated, modelBindings({ value: ['sample_rate=16000'] }));
    const lo = loadGraph(gated, modelBindings({ value: ['sample_rate=8000'] }));
    for (const g of [hi, lo]) {
      expect(g.controlFlow).toEqual([expect.objectContaining({ op: 'If', inlined: true })]);
      expect(g.failed).toEqual([]);
      expect(g.diagnostics.filter((d) => d.code === 'W_GATED_ON_INPUT')).toEqual([]);
      expect(g.nodes.every((n) => n.origin?.startsWith('If:'))).toBe(true);
    }
    expect(ops(hi)).toEqual(['Conv', 'Relu', 'Conv', 'Relu', 'GlobalAveragePool', 'Flatten', 'Gemm']);
    expect(ops(lo)).toEqual(['AveragePool', 'Conv', 'Relu', 'Conv', 'Sigmoid', 'GlobalAveragePool', 'Flatten', 'Gemm']);
    expect(hi.nodes[0].origin).toMatch(/\/then$/);
    expect(lo.nodes[0].origin).toMatch(/\/else$/);
    // The graph output is the If's: it resolves to the taken branch's last layer.
    expect(hi.resolve('output')).toBe(hi.nodes[hi.nodes.length - 1].outputs[0]);
    expect(hi.inputs.find((i) => i.name === 'sample_rate')).toEqual({ name: 'sample_rate', dtype: 'int64', shape: [], value: [16000] });
  });

  it('refuses values that do not fit the input, naming it', () => {
    const fails = (value: string[], text: string) => {
      let err: unknown;
      try {
        loadGraph(gated, modelBindings({ value }));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DlprofError);
      expect((err as Error).message).toContain(text);
    };
    fails(['sample_rate=16000.5'], "input 'sample_rate' is int64; 16000.5 is not an integer");
    fails(['sample_rate=1,2'], "has 2 elements, but input 'sample_rate' has shape []");
    fails(['rate=16000'], "--value names input 'rate', but the model's inputs are 'input', 'sample_rate'");
    expect(() => modelBindings({ value: ['sample_rate=fast'] })).toThrow("'fast' is not a number");
    expect(() => modelBindings({ value: ['sample_rate'] })).toThrow('expected NAME=VALUE');
  });

  it('binds 1-D tensors and bools', () => {
    const file = saveModel((b) => {
      const ids = b.input('ids', 'int64', ['n']);
      const flag = b.input('flag', 'bool', []);
      b.op('Where', [flag, b.op('ReduceSum', [ids], { keepdims: 0 }), b.ints('zero', [0], [])], {}, { output: 'y' });
      b.output('y', 'int64', []);
    });
    const g = loadGraph(file, modelBindings({ value: ['ids=1,2,3', 'flag=true'] }));
    expect(g.inputs).toEqual([
      { name: 'ids', dtype: 'int64', shape: [3], value: [1, 2, 3] },
      { name: 'flag', dtype: 'bool', shape: [], value: [1] },
    ]);
    // Everything folds: no layer is left to time.
    expect(g.nodes).toEqual([]);
    expect(g.host.count).toBe(2);
  });
});

describe('--value on a Loop trip count', () => {
  /** v ← tanh(v·W) `steps` times, every v collected (a scan output). */
  const loopModel = () => saveModel((g) => {
    const x = g.input('x', 'float32', [1, 4]);
    const steps = g.input('steps', 'int64', []);
    const w = g.init('w', 'float32', [4, 4]);
    const body = new GraphBuilder('body', 7, 'body/');
    body.input('body/i', 'int64', []);
    const c = body.input('body/c', 'bool', []);
    const v = body.input('body/v', 'float32', [1, 4]);
    body.op('Identity', [c], {}, { output: 'body/c_out' });
    const y = body.op('Tanh', [body.op('MatMul', [v, w])], {}, { output: 'body/v_out' });
    body.op('Identity', [y], {}, { output: 'body/v_scan' });
    body.output('body/c_out', 'bool', []);
    body.output('body/v_out', 'float32', [1, 4]);
    body.output('body/v_scan', 'float32', [1, 4]);
    g.node('Loop', [steps, '', x], { body }, { outputs: ['final', 'all'] });
    g.output('final', 'float32', [1, 4]);
    g.output('all', 'float32', ['steps', 1, 4]);
  });

  it('unrolls the loop the bound trip count runs, stacking its scan output', () => {
    const file = loopModel();
    const g = loadGraph(file, modelBindings({ value: ['steps=5'] }));
    expect(g.controlFlow).toEqual([expect.objectContaining({ op: 'Loop', inlined: true, iterations: 5 })]);
    expect(ops(g).filter((o) => o === 'MatMul')).toHaveLength(5);
    expect(ops(g).filter((o) => o === 'Tanh')).toHaveLength(5);
    expect(g.outputs).toEqual([{ name: 'final', dtype: 'float32', shape: [1, 4] }, { name: 'all', dtype: 'float32', shape: [5, 1, 4] }]);
    // Each iteration reads the previous one's carried value: a chain, not five copies of the first.
    const matmuls = g.nodes.filter((n) => n.op === 'MatMul');
    for (let i = 1; i < matmuls.length; i++) expect(g.nodes[matmuls[i].deps[0]].op).toBe('Tanh');
    const stack = g.nodes.find((n) => n.op === 'Concat')!;
    expect(stack.deps).toHaveLength(5);
  });

  it('without a value: the Loop is untimed and the warning names the trip-count input', () => {
    const g = loadGraph(loopModel(), modelBindings({}));
    expect(g.controlFlow).toEqual([expect.objectContaining({ op: 'Loop', inlined: false })]);
    expect(g.nodes).toEqual([]);
    expect(g.diagnostics.find((d) => d.code === 'W_GATED_ON_INPUT')?.message).toMatch(/Loop .* depends on input 'steps' \(int64 scalar\) for how many times it runs: bind it with --value steps=V/);
  });
});

describe('--defaults', () => {
  it('binds every unbound symbolic dimension to 1 and says which', () => {
    const g = loadGraph(fixture('vit-tiny.onnx'), modelBindings({ defaults: true }));
    expect(g.inputs[0].shape[0]).toBe(1);
    expect(g.failed).toEqual([]);
    expect(g.diagnostics.find((d) => d.code === 'W_DEFAULT_DIM')?.message).toBe("--defaults bound 'batch' to 1 (set them with --dim NAME=N)");
  });

  it('leaves dimensions bound by --dim alone; without it, the error offers --defaults', () => {
    const g = loadGraph(fixture('vit-tiny.onnx'), modelBindings({ defaults: true, dim: ['batch=2'] }));
    expect(g.inputs[0].shape[0]).toBe(2);
    expect(g.diagnostics.some((d) => d.code === 'W_DEFAULT_DIM')).toBe(false);
    let err: DlprofError | undefined;
    try {
      loadGraph(fixture('vit-tiny.onnx'), modelBindings({}));
    } catch (e) {
      err = e as DlprofError;
    }
    expect(err?.code).toBe('E_UNBOUND_DIM');
    expect(err?.suggestions.join(' ')).toContain('--defaults');
  });
});
