/**
 * Compile-time vs run-time values of a WGSL program.
 *
 * Kernel generators write a layer's sizes, strides and pads into their WGSL as literals, which
 * keeps each generator simple and lets it be read as the layer's program. Compiled that way, every
 * (layer, variant, pass) would be a program of its own: ResNet-50 has ~256 of them, and a software
 * driver spends seconds on each. `specialize` splits a program into
 *  - its *specialization key*: the source with every run-time literal replaced by a read of a
 *    uniform parameter block. It keeps the structure of the code, the element types, and every value
 *    the program is specialized on (see below); two layers that differ only in sizes have the same
 *    key and share one compiled pipeline;
 *  - its *run-time parameters*: the replaced values, in order, bound as that uniform block.
 *
 * The rule a kernel generator writes to: a size, stride or pad is a suffixed literal (`${n}u`,
 * `${n}i`) and becomes a run-time parameter; a value the variant specializes on (its tile shape,
 * workgroup size, register-block sizes, a loop's trip count that must stay constant to be unrolled
 * into registers) is written as an abstract integer (`${n}`) or a `const`, and stays compiled in.
 * So do values where WGSL needs a constant (`@workgroup_size`, `@binding` and other attributes,
 * `array<T, N>` sizes, `const`/`override` declarations, module-scope `var<private>` initializers,
 * `case` selectors, `subgroupBroadcast`'s lane), 0 (loop starts), and float literals. A size named
 * once (`let cvPH = ${n}i;`, the whole initializer of a `let`) is a run-time parameter even when
 * it is 0: a generator names a value so that one program serves every layer (pads 0 and 1 alike). A program's key therefore changes exactly when its code does, which is what a
 * stored result's kernel identity is made from (planHash).
 *
 * Guessing instead (baking every value that also appears as an array size) kept ResNet's channel
 * counts in the key, since 16, 32 and 64 are also tile sizes: resnet-tiny then needed 157 programs
 * instead of 62.
 */
import { createHash } from 'node:crypto';
import type { KernelPlan } from './types.js';

export interface Specialized {
  /** The generic program (the specialization key): lifted literals read from `PARAM_BLOCK`. */
  source: string;
  /** The lifted values in order, as u32 bit patterns (an i32 value is its two's complement). */
  params: Uint32Array;
  /** The binding of the parameter block in group 0 (after the program's own), or null without one. */
  binding: number | null;
}

/** Name of the uniform block of run-time parameters in a generic program. */
export const PARAM_BLOCK = 'dlprof_params';

/** Loop starts and zero offsets: never a size worth sharing a program over. */
const ALWAYS_BAKED = new Set([0]);

interface Token { start: number; end: number; value: number; suffix: 'u' | 'i' }

/** Spans of `src` outside comments. */
function codeSpans(src: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let i = 0;
  let from = 0;
  while (i < src.length) {
    if (src[i] === '/' && src[i + 1] === '/') {
      spans.push([from, i]);
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl;
      from = i;
    } else if (src[i] === '/' && src[i + 1] === '*') {
      spans.push([from, i]);
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      from = i;
    } else i++;
  }
  spans.push([from, src.length]);
  return spans.filter(([a, b]) => b > a);
}

/** Index just past the bracket that closes the one (`<` or `(`) at `open`. */
function closing(src: string, open: number): number {
  const [o, c] = src[open] === '<' ? ['<', '>'] : ['(', ')'];
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if (src[i] === o) depth++;
    else if (src[i] === c && --depth === 0) return i + 1;
  }
  return src.length;
}

/** Ranges where WGSL requires a constant expression. */
function constRanges(src: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const m of src.matchAll(/@\s*[A-Za-z_]\w*\s*\(/g)) ranges.push([m.index!, closing(src, m.index! + m[0].length - 1)]);
  for (const m of src.matchAll(/\barray\s*</g)) ranges.push([m.index!, closing(src, m.index! + m[0].length - 1)]);
  for (const m of src.matchAll(/\b(?:const|override)\s+[A-Za-z_]/g)) {
    const end = src.indexOf(';', m.index!);
    ranges.push([m.index!, end < 0 ? src.length : end]);
  }
  // A module-scope variable's initializer (`var<private> n: u32 = 1u;`).
  for (const m of src.matchAll(/\bvar\s*<\s*private\s*>/g)) {
    const end = src.indexOf(';', m.index!);
    ranges.push([m.index!, end < 0 ? src.length : end]);
  }
  // Builtins whose lane argument must be a constant.
  for (const m of src.matchAll(/\b(?:subgroupBroadcast|quadBroadcast)\s*\(/g)) ranges.push([m.index!, closing(src, m.index! + m[0].length - 1)]);
  for (const m of src.matchAll(/\bcase\b/g)) {
    const end = src.indexOf(':', m.index!);
    ranges.push([m.index!, end < 0 ? src.length : end]);
  }
  return ranges;
}

function literals(src: string): Token[] {
  const out: Token[] = [];
  for (const [a, b] of codeSpans(src)) {
    const part = src.slice(a, b);
    // Not part of an identifier (vec4u), a float (1.5), or a hex literal (0x10u).
    for (const m of part.matchAll(/(?<![\w.])(\d+)([ui])(?![\w.])/g)) {
      out.push({ start: a + m.index!, end: a + m.index! + m[0].length, value: Number(m[1]), suffix: m[2] as 'u' | 'i' });
    }
  }
  return out;
}

/** Splits `wgsl` into its specialization key and run-time parameters (see the module comment). */
export function specialize(wgsl: string): Specialized {
  const ranges = constRanges(wgsl);
  const inConst = (t: Token): boolean => ranges.some(([a, b]) => t.start >= a && t.end <= b);
  const lifted = literals(wgsl).filter((t) => (!ALWAYS_BAKED.has(t.value) || named(wgsl, t)) && !inConst(t) && t.value <= (t.suffix === 'u' ? 0xffffffff : 0x7fffffff));
  if (!lifted.length) return { source: wgsl, params: new Uint32Array(0), binding: null };
  // A divisor gets one slot per distinct value, so that the compiler still sees equal divisors as
  // equal and divides once (integer division by a run-time value is the costly part of index
  // arithmetic: ~20 instructions on a GPU, scalarized on a SIMD CPU). Which divisors share a slot
  // is part of the key. Every other literal has a slot of its own, so the key does not depend on
  // which sizes happen to coincide.
  const slots = new Map<string, number>();
  const slotOf = lifted.map((t) => {
    const id = divisor(wgsl, t) ? `${t.value}${t.suffix}` : `#${t.start}`;
    if (!slots.has(id)) slots.set(id, slots.size);
    return slots.get(id)!;
  });
  const params = new Uint32Array(Math.ceil(slots.size / 4) * 4);
  lifted.forEach((t, i) => { params[slotOf[i]] = t.value >>> 0; });
  let body = '';
  let at = 0;
  for (const [i, t] of lifted.entries()) {
    const j = slotOf[i];
    const read = `${PARAM_BLOCK}[${j >> 2}][${j & 3}]`;
    body += wgsl.slice(at, t.start) + (t.suffix === 'u' ? read : `bitcast<i32>(${read})`);
    at = t.end;
  }
  body += wgsl.slice(at);
  // The block is declared after the directives (`enable f16;` must precede every declaration).
  const lines = body.split('\n');
  let after = 0;
  lines.forEach((l, i) => { if (/^\s*(enable|requires|diagnostic)\b/.test(l)) after = i + 1; });
  const binding = bindingSlot(wgsl);
  const decl = `@group(0) @binding(${binding}) var<uniform> ${PARAM_BLOCK}: array<vec4<u32>, ${params.length / 4}>;`;
  lines.splice(after, 0, decl);
  return { source: lines.join('\n'), params, binding };
}

/** Whether literal `t` is the whole initializer of a `let` (`let name = 0u;`): a named size. */
function named(src: string, t: Token): boolean {
  return /\blet\s+[A-Za-z_]\w*\s*=\s*$/.test(src.slice(Math.max(0, t.start - 48), t.start)) && /^\s*;/.test(src.slice(t.end, t.end + 4));
}

/** Whether literal `t` is the right operand of `/` or `%`. */
function divisor(src: string, t: Token): boolean {
  return /[/%]\s*$/.test(src.slice(Math.max(0, t.start - 8), t.start));
}

/** The first binding number of group 0 the program does not declare. */
function bindingSlot(wgsl: string): number {
  let next = 0;
  for (const m of wgsl.matchAll(/@binding\(\s*(\d+)\s*\)/g)) next = Math.max(next, Number(m[1]) + 1);
  return next;
}

/**
 * The identity of a plan's code: a hash of its passes' specialization keys, in order. It changes
 * when a kernel's generated code changes, and not when only the sizes it runs on do; a stored
 * result made by other code is not reused (store: measurement.kernel_hash).
 */
export function planHash(plan: Pick<KernelPlan, 'passes'>): string {
  const h = createHash('sha256');
  for (const p of plan.passes) h.update(specializeCached(p.wgsl).source).update('\0');
  return h.digest('hex').slice(0, 16);
}

const memo = new Map<string, Specialized>();

/** `specialize`, memoized by source (the same layer's passes are planned again and again). */
export function specializeCached(wgsl: string): Specialized {
  let s = memo.get(wgsl);
  if (!s) {
    s = specialize(wgsl);
    if (memo.size > 4096) memo.clear();
    memo.set(wgsl, s);
  }
  return s;
}
