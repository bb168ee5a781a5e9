/**
 * Where an analysis's wall time goes, by phase (parse, compile, check, timing, end-to-end runs,
 * onnxruntime): reported in analyze's JSON and on stderr, so a slow first run says why.
 */
import { performance } from 'node:perf_hooks';

export const PHASES = ['parse', 'probe', 'compile', 'check', 'timing', 'end-to-end', 'onnxruntime'] as const;
export type Phase = (typeof PHASES)[number];

export class PhaseClock {
  private readonly ms = new Map<Phase, number>();
  private readonly t0 = performance.now();
  /** Distinct programs compiled (specialization keys). */
  programs = 0;

  add(phase: Phase, ms: number): void {
    this.ms.set(phase, (this.ms.get(phase) ?? 0) + ms);
  }

  /** Runs `f`, counting its wall time to `phase`. */
  async time<T>(phase: Phase, f: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await f();
    } finally {
      this.add(phase, performance.now() - t);
    }
  }

  /** Seconds per phase, in pipeline order, and the total since the clock started. */
  summary(): { phases: Array<{ phase: Phase; seconds: number }>; programs: number; totalSeconds: number } {
    return {
      phases: PHASES.filter((p) => this.ms.has(p)).map((p) => ({ phase: p, seconds: this.ms.get(p)! / 1000 })),
      programs: this.programs,
      totalSeconds: (performance.now() - this.t0) / 1000,
    };
  }

  /** One line for stderr. */
  text(): string {
    const s = this.summary();
    const parts = s.phases.map((p) => `${p.phase} ${p.seconds.toFixed(1)} s${p.phase === 'compile' ? ` (${s.programs} programs)` : ''}`);
    return `took ${s.totalSeconds.toFixed(1)} s: ${parts.join(', ')}`;
  }
}
