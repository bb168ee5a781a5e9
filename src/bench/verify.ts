/**
 * Numerical agreement of a kernel variant with its CPU reference, checked before any timing is
 * trusted (docs/architecture.md, Checking before timing).
 */
import type { HostTensor, Kernel, LayerCase } from '../kernels/types.js';
import type { Executor, Prepared } from '../gpu/executor.js';

/**
 * Tolerances by output dtype: |gpu − ref| ≤ atol + rtol·|ref|, with atol scaled by the output's
 * magnitude (max |ref|) so that sums of many terms are judged relative to their size.
 *  - float32: rtol 1e-3 — a K-term dot product in f32 accumulates ~√K·2⁻²⁴ relative error; even
 *    K = 10⁶ stays below 1e-4, and reordered reductions (tiling, split-K, Winograd's transforms,
 *    which lose ~1 decimal digit) stay below 1e-3.
 *  - float16: rtol 2e-2 — f16 has 11 significant bits (2⁻¹¹ ≈ 4.9e-4 per operation); products and
 *    f16 accumulation over hundreds of terms reach ~1e-2.
 *  - integers and bool: exact.
 */
export const TOLERANCE: Record<string, { rtol: number; atol: number }> = {
  float32: { rtol: 1e-3, atol: 1e-4 },
  float16: { rtol: 2e-2, atol: 2e-3 },
};

export interface Agreement {
  ok: boolean;
  maxAbsError: number;
  /** Index (output, element) of the worst element, when not ok. */
  worst?: { output: number; index: number; got: number; want: number };
  tolerance: { rtol: number; atol: number };
}

/**
 * A whole model's outputs after tens of layers: each layer's rounding (≤ 1e-3 relative, above)
 * compounds, and nonlinearities amplify it near their kinks, so the end-to-end comparison with
 * onnxruntime allows 1e-2 relative (and 1e-3 of the output's magnitude absolute). A wrong kernel
 * is off by far more (typically O(1)).
 */
export const MODEL_TOLERANCE = { rtol: 1e-2, atol: 1e-3 };

export function compareOutputs(got: HostTensor[], want: HostTensor[], dtypeOverride?: string, override?: { rtol: number; atol: number }): Agreement {
  let maxAbs = 0;
  let worst: Agreement['worst'];
  let ok = true;
  const tol = override ?? TOLERANCE[dtypeOverride ?? want[0]?.dtype ?? 'float32'] ?? { rtol: 0, atol: 0 };
  for (let o = 0; o < want.length; o++) {
    const g = got[o];
    const w = want[o];
    if (!g || g.data.length !== w.data.length) {
      return { ok: false, maxAbsError: Infinity, tolerance: tol, worst: { output: o, index: -1, got: g?.data.length ?? 0, want: w.data.length } };
    }
    let scale = 0;
    for (let i = 0; i < w.data.length; i++) if (Number.isFinite(w.data[i])) scale = Math.max(scale, Math.abs(w.data[i]));
    const t = override ?? TOLERANCE[dtypeOverride ?? w.dtype] ?? { rtol: 0, atol: 0 };
    const atol = t.atol * Math.max(1, scale);
    for (let i = 0; i < w.data.length; i++) {
      const a = g.data[i];
      const b = w.data[i];
      // Equal values agree, infinities included (∞ − ∞ is NaN); so do two NaNs.
      if (a === b || (Number.isNaN(b) && Number.isNaN(a))) continue;
      const err = Math.abs(a - b);
      if (!(err <= atol + t.rtol * Math.abs(b))) {
        if (ok || err > maxAbs) worst = { output: o, index: i, got: a, want: b };
        ok = false;
      }
      if (err > maxAbs || Number.isNaN(err)) maxAbs = Number.isNaN(err) ? Infinity : err;
    }
  }
  return { ok, maxAbsError: maxAbs, worst, tolerance: tol };
}

/** Runs `prepared` once and compares with the reference on the same inputs. */
export async function verifyVariant(runner: Executor, kernel: Kernel, c: LayerCase, prepared: Prepared,
  inputs: Array<HostTensor | null>): Promise<Agreement> {
  const got = await runner.run(prepared, c);
  const want = kernel.reference(c, inputs);
  return compareOutputs(got, want);
}
