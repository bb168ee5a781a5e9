/**
 * Elementwise kernel: every variant against the CPU reference on broadcasting shapes, odd sizes,
 * integer/bool/f16 dtypes, and ONNX's conformance cases for the elementwise ops.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { float } from '../../src/onnx/write.js';
import { ELEMENTWISE_OPS, EPILOGUE_OPS, epilogueOf } from '../../src/kernels/elementwise.js';
import type { LayerCase } from '../../src/kernels/types.js';
import { casesFrom, checkCase, checkCaseWith, mapFloats, releaseGpu, type VariantCheck } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runConformanceCase, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

/** Every supported variant agrees; returns the checks for further assertions. */
async function agree(c: LayerCase, map?: Parameters<typeof checkCaseWith>[1]): Promise<VariantCheck[]> {
  const r = map ? await checkCaseWith(c, map) : await checkCase(c);
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${c.layer.op} ${JSON.stringify(c.layer.inputs.map((t) => t && `${t.dtype}[${t.shape}]`))} ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  return r;
}

const variants = (r: VariantCheck[]): string[] => r.filter((v) => v.supported).map((v) => v.variant);

const DOMAIN: Record<string, (x: number) => number> = {
  Log: (x) => Math.abs(x) + 0.01, Sqrt: Math.abs, Acosh: (x) => 1 + Math.abs(x) * 3,
  Pow: (x) => Math.abs(x) + 0.1,
};

describe('elementwise unary', () => {
  const UNARY = ['Relu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Abs', 'Neg', 'Floor', 'Ceil', 'Round', 'Sign',
    'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Erf', 'Softplus', 'Softsign', 'HardSwish', 'Mish',
    'IsNaN', 'IsInf', 'Identity'];
  it('float ops on odd and vec4-able shapes', async () => {
    for (const shape of [[2, 3, 5], [2, 8]]) {
      const cases = casesFrom((g) => {
        g.input('x', 'float32', shape);
        for (const op of UNARY) g.output(g.op(op, ['x']));
      });
      expect(cases.length).toBe(UNARY.length);
      for (const c of cases) {
        // Inputs in each op's domain: a NaN reference defeats compareOutputs' magnitude scale.
        const r = await agree(c, DOMAIN[c.layer.op] && mapFloats(DOMAIN[c.layer.op]));
        expect(variants(r)).toEqual(shape[1] === 8 ? ['naive', 'vec4'] : ['naive']);
      }
    }
  });
  it('activations with attributes', async () => {
    const cases = casesFrom((g) => {
      g.input('x', 'float32', [4, 33]);
      g.output(g.op('LeakyRelu', ['x'], { alpha: float(0.2) }));
      g.output(g.op('Elu', ['x'], { alpha: float(0.7) }));
      g.output(g.op('Selu', ['x']));
      g.output(g.op('Celu', ['x'], { alpha: float(1.5) }));
      g.output(g.op('HardSigmoid', ['x'], { alpha: float(0.3), beta: float(0.4) }));
      g.output(g.op('ThresholdedRelu', ['x'], { alpha: float(0.25) }));
      g.output(g.op('Shrink', ['x'], { bias: float(0.1), lambd: float(0.3) }));
      g.output(g.op('Gelu', ['x']));
      g.output(g.op('Gelu', ['x'], { approximate: 'tanh' }));
    }, { '': 20 });
    expect(cases.length).toBe(9);
    for (const c of cases) await agree(c);
  });
});

describe('elementwise binary broadcasting', () => {
  const shapes: Array<[number[], number[]]> = [
    [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[], [2, 3, 4]], [[2, 3, 4], [3, 1]], [[1, 6, 5, 8], [6, 1, 1]],
    [[2, 3, 4], [2, 3, 4]], [[3, 5], [1]], [[7], [7]],
  ];
  it('Add/Sub/Mul/Div/Pow/PRelu/Max/Min and comparisons agree on every variant', async () => {
    for (const [a, b] of shapes) {
      const cases = casesFrom((g) => {
        g.input('a', 'float32', a);
        g.input('b', 'float32', b);
        for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Equal', 'Less', 'GreaterOrEqual']) g.output(g.op(op, ['a', 'b']), op === 'Equal' || op.startsWith('Less') || op.startsWith('Greater') ? 'bool' : 'float32');
        g.output(g.op('Pow', ['a', 'b']));
      });
      for (const c of cases) await agree(c, c.layer.op === 'Pow' ? (t, i) => (i === 0 ? mapFloats(DOMAIN.Pow)(t) : mapFloats((x) => x * 3)(t)) : undefined);
    }
  });
  it('vec4 serves outer, row and splat broadcasts, and declines others', async () => {
    const cases = casesFrom((g) => {
      g.input('x', 'float32', [2, 3, 4]);
      g.input('row', 'float32', [2, 1, 4]);
      g.input('col', 'float32', [2, 3, 1]);
      g.input('odd', 'float32', [3, 2]);
      g.input('y', 'float32', [2, 3, 2]);
      g.output(g.op('Add', ['x', 'row']));
      g.output(g.op('Add', ['x', 'col']));
      g.output(g.op('Add', ['y', 'odd']));
    });
    const [row, col, odd] = await Promise.all(cases.map(() => null)).then(() => cases);
    expect(variants(await agree(row))).toEqual(['naive', 'vec4']);
    expect(variants(await agree(col))).toEqual(['naive', 'vec4']);
    const r = await agree(odd);
    expect(variants(r)).toEqual(['naive']);
  });
  it('PRelu with a per-channel slope', async () => {
    const cases = casesFrom((g) => {
      g.input('x', 'float32', [1, 3, 4, 4]);
      g.output(g.op('PRelu', ['x', g.init('slope', 'float32', [3, 1, 1])]));
    });
    expect(variants(await agree(cases[0]))).toEqual(['naive', 'vec4']);
  });
});

describe('elementwise integer, bool and mixed types', () => {
  it('int32 arithmetic (Div truncates, Mod both ways), bool logic, Where, Not', async () => {
    const cases = casesFrom((g) => {
      g.input('a', 'int32', [3, 4]);
      g.input('b', 'int32', [4]);
      g.input('p', 'bool', [3, 4]);
      g.input('q', 'bool', [3, 1]);
      g.input('f', 'float32', [3, 4]);
      for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Pow']) g.output(g.op(op, ['a', 'b']), 'int32');
      g.output(g.op('Mod', ['a', 'b']), 'int32');
      g.output(g.op('Mod', ['a', 'b'], { fmod: 1 }), 'int32');
      for (const op of ['And', 'Or', 'Xor']) g.output(g.op(op, ['p', 'q']), 'bool');
      g.output(g.op('Not', ['p']), 'bool');
      g.output(g.op('Where', ['p', 'f', 'a']), 'float32');
    });
    for (const c of cases) await agree(c);
  });
  it('Cast between float, int, bool and float16', async () => {
    const cases = casesFrom((g) => {
      g.input('f', 'float32', [5, 4]);
      g.input('i', 'int64', [5, 4]);
      g.input('h', 'float16', [5, 4]);
      g.output(g.op('Cast', ['f'], { to: 6 }), 'int32');
      g.output(g.op('Cast', ['f'], { to: 9 }), 'bool');
      g.output(g.op('Cast', ['f'], { to: 2 }), 'uint8');
      g.output(g.op('Cast', ['f'], { to: 10 }), 'float16');
      g.output(g.op('Cast', ['i'], { to: 1 }));
      g.output(g.op('Cast', ['h'], { to: 1 }));
    });
    expect(cases.length).toBe(6);
    for (const c of cases) await agree(c);
  });
  it('float16 arithmetic', async () => {
    const cases = casesFrom((g) => {
      g.input('a', 'float16', [2, 3, 8]);
      g.input('b', 'float16', [3, 1]);
      g.output(g.op('Mul', ['a', 'b']), 'float16');
      g.output(g.op('Sigmoid', ['a']), 'float16');
    });
    for (const c of cases) expect(variants(await agree(c))).toEqual(['naive', 'vec4']);
  });
  it('Sum, Mean, Max of three broadcast inputs', async () => {
    const cases = casesFrom((g) => {
      g.input('a', 'float32', [2, 3, 4]);
      g.input('b', 'float32', [3, 4]);
      g.input('c', 'float32', [2, 1, 4]);
      for (const op of ['Sum', 'Mean', 'Max', 'Min']) g.output(g.op(op, ['a', 'b', 'c']));
    });
    for (const c of cases) expect(variants(await agree(c))).toEqual(['naive', 'vec4']);
  });
});

describe('elementwise Clip, Dropout', () => {
  it('Clip from attributes (opset 6), constant inputs and a graph-input bound (opset 13)', async () => {
    const old = casesFrom((g) => {
      g.input('x', 'float32', [3, 7]);
      g.output(g.op('Clip', ['x'], { min: float(-0.25), max: float(0.5) }));
    }, { '': 6 });
    const now = casesFrom((g) => {
      g.input('x', 'float32', [3, 8]);
      g.input('hi', 'float32', []);
      g.output(g.op('Clip', ['x', g.init('lo', 'float32', [], [-0.3])]));
      g.output(g.op('Clip', ['x', '', 'hi']));
    }, { '': 13 });
    for (const c of [...old, ...now]) await agree(c);
    expect(now[1].layer.attrs.max).toBeUndefined();
  });
  it('Dropout in inference mode passes data through; its mask is all true', async () => {
    const cases = casesFrom((g) => {
      g.input('x', 'float32', [2, 6]);
      const [y, m] = g.node('Dropout', ['x'], {}, { outputs: 2 });
      g.output(y);
      g.output(m, 'bool');
    }, { '': 13 });
    const r = await agree(cases[0]);
    expect(variants(r)).toEqual(['naive', 'vec4']);
  });
});

/** Known-bad test data, skipped with the reason. */
const KNOWN: Record<string, string> = {
  test_castlike_BFLOAT16_to_FLOAT: 'ONNX 1.12 stores the bfloat16 input as uint16 bit patterns: the layer becomes a uint16 cast',
  test_castlike_FLOAT_to_BFLOAT16: 'ONNX 1.12 stores the bfloat16 target as uint16 bit patterns: the layer becomes a uint16 cast',
};

describe('elementwise ONNX conformance', () => {
  it('every supported variant passes ONNX\'s cases', async () => {
    const t = await tallyConformance(conformanceCasesFor(ELEMENTWISE_OPS), runConformanceCase, { known: KNOWN, dataFallback: true });
    printTally('elementwise', t);
    expect(t.failed).toEqual([]);
    // Integer and bool cases run with their inputs as data (the shared runner folds them).
    for (const op of ['Mod', 'BitShift', 'And', 'Max', 'Equal']) expect(t.perOp.get(op)?.pass, op).toBeGreaterThanOrEqual(3);
  });
});

describe('fusion epilogues (the activations a fused layer applies, from the op table)', () => {
  it('compute what the op does, with alpha and beta as its parameters', () => {
    const at = (op: string, x: number, alpha = 0, beta = 0): number => epilogueOf(op)!.ref(alpha, beta)(x);
    expect([...EPILOGUE_OPS].sort()).toEqual(['Clip', 'Gelu', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Relu', 'Sigmoid', 'Tanh']);
    expect(at('Relu', -2)).toBe(0);
    // LeakyRelu's slope is an f32 attribute: 0.1 as f32.
    expect(at('LeakyRelu', -2, 0.1)).toBeCloseTo(-0.2, 7);
    expect(at('HardSigmoid', 1, 0.2, 0.5)).toBeCloseTo(0.7, 12);
    expect(at('Clip', 3, -1, 1)).toBe(1);
    expect(at('HardSwish', 1)).toBeCloseTo(1 * (1 / 6 + 0.5), 12);
    // Φ(1) = 0.841344746…, so Gelu(1) = 1 · Φ(1).
    expect(at('Gelu', 1)).toBeCloseTo(0.8413447461, 9);
    expect(epilogueOf('Elu')).toBeUndefined();
  });

  it('give f32 WGSL of x with the helpers it calls', () => {
    const gelu = epilogueOf('Gelu')!.wgsl(0, 0);
    const name = /fn (\w+)\(x: f32\) -> f32/.exec(gelu.helpers)?.[1];
    expect(name).toBeDefined();
    expect(gelu.body).toContain(`${name}(`);
    const clip = epilogueOf('Clip')!.wgsl(-1, 6);
    expect(clip.helpers).toBe('');
    expect(clip.body).toBe('min(max(x, f32(-1.0)), f32(6.0))');
    expect(epilogueOf('LeakyRelu')!.wgsl(0.25, 0).body).toContain('0.25');
  });
});

