import { describe, expect, it } from 'vitest';
import { GraphBuilder, inferGraph } from './build.js';

describe('If with a condition known only at run time', () => {
  it('keeps dims both branches agree on and makes the others symbolic', () => {
    const b = new GraphBuilder('if');
    const cond = b.input('cond', 'bool', []);
    const inp = b.input('x', 'float32', [2, 4]);
    const then = new GraphBuilder('then');
    then.output(then.op('Identity', [inp], {}, { output: 't' }));
    const other = new GraphBuilder('else');
    other.output(other.op('Concat', [inp, inp], { axis: 1 }, { output: 'e' }));
    b.node('If', [cond], { then_branch: then, else_branch: other }, { outputs: ['y'] });
    b.output('y');
    const res = inferGraph(b);
    const n = res.nodes.find((q) => q.op === 'If')!;
    expect(n.kind).toBe('control-flow');
    expect(n.outputInfos[0].dtype).toBe('float32');
    expect(n.outputInfos[0].shape?.[0]).toBe(2);
    expect(typeof n.outputInfos[0].shape?.[1]).toBe('string');
  });
});

describe('Loop', () => {
  it('scan outputs get the trip count as leading dim; loop-carried keep their type', () => {
    const b = new GraphBuilder('loop');
    const inp = b.input('x', 'float32', [3]);
    const body = new GraphBuilder('body');
    body.input('i', 'int64', []);
    body.input('c', 'bool', []);
    body.input('acc', 'float32', [3]);
    body.op('Identity', ['c'], {}, { output: 'c_out' });
    body.op('Add', ['acc', inp], {}, { output: 'acc_out' });
    body.op('Mul', ['acc', inp], {}, { output: 'scan' });
    body.output('c_out', 'bool', []);
    body.output('acc_out');
    body.output('scan');
    b.node('Loop', [b.init('m', 'int64', [], [5]), '', inp], { body }, { outputs: ['final', 'stacked'] });
    b.output('final');
    b.output('stacked');
    const res = inferGraph(b);
    expect(res.outputs[0].info).toEqual({ dtype: 'float32', shape: [3] });
    expect(res.outputs[1].info).toEqual({ dtype: 'float32', shape: [5, 3] });
  });
});

describe('Scan (opset 9+)', () => {
  it('slices scan inputs along their axes and stacks scan outputs at scan_output_axes', () => {
    const b = new GraphBuilder('scan');
    const init = b.input('s0', 'float32', [2]);
    const seq = b.input('xs', 'float32', [2, 7]);
    const body = new GraphBuilder('body');
    body.input('s', 'float32', [2]);
    body.input('xt', 'float32', [2]);
    body.op('Add', ['s', 'xt'], {}, { output: 's_out' });
    body.op('Identity', ['s_out'], {}, { output: 'y' });
    body.output('s_out');
    body.output('y');
    b.node('Scan', [init, seq], { body, num_scan_inputs: 1, scan_input_axes: [-1], scan_output_axes: [1] }, { outputs: ['sf', 'ys'] });
    b.output('sf');
    b.output('ys');
    const res = inferGraph(b, 16);
    expect(res.outputs[0].info.shape).toEqual([2]);
    expect(res.outputs[1].info.shape).toEqual([2, 7]);
    expect(res.nodes.find((n) => n.op === 'Scan')?.attrs).toMatchObject({ scan_input_axes: [1], scan_output_axes: [1] });
  });
});
