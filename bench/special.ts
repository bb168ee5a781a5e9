/**
 * `npm run bench:special`: the special layers' kernel variants side by side, in one run on one
 * adapter — neighborhood attention (fused and GEMM-based against naive), deformable convolution
 * (three variants and the regular convolution of the same shape), sparse layers (dense against CSR
 * against fused ELL at several sparsities) and attention (fused against unfused).
 *
 * Every variant is checked against the kernel's CPU reference before it is timed (a mismatch is
 * printed, never timed). Ratios are baseline median / variant median: > 1 means faster than the
 * baseline. Options: `--only GROUP` runs the group of that name, or else the groups whose names
 * contain it; `--budget MS` the time
 * budget per variant (default 3000); `--autotune quick|full` also searches the configurations of
 * each layer's fastest tunable variant (attention's fused-tiled blocks, the GEMM core's tiles) and
 * prints its fastest as a row of its own (default off: each variant's own configuration).
 */
import { DEFAULT_TIMING, Timer } from '../src/bench/harness.js';
import { bestVariant, configText, measureLayer } from '../src/bench/measure.js';
import { geomean } from '../src/bench/stats.js';
import { closeGpu, openGpu } from '../src/gpu/device.js';
import { KernelRunner } from '../src/gpu/run.js';
import { AUTOTUNE_LEVELS, type AutotuneLevel } from '../src/kernels/types.js';
import type { SpecialCase } from './special/common.js';
import { FAMILIES } from './special/index.js';

function parseArgs(argv: string[]): { only?: string; budgetMs: number; autotune: AutotuneLevel } {
  let only: string | undefined;
  let budgetMs = 3000;
  let autotune: AutotuneLevel = 'off';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') only = argv[++i];
    else if (argv[i] === '--budget') budgetMs = Number(argv[++i]);
    else if (argv[i] === '--autotune') {
      const level = argv[++i];
      if (!(AUTOTUNE_LEVELS as readonly string[]).includes(level)) throw new Error(`--autotune ${level}: expected one of ${AUTOTUNE_LEVELS.join(', ')}`);
      autotune = level as AutotuneLevel;
    } else throw new Error(`unknown option ${argv[i]} (options: --only GROUP-SUBSTRING, --budget MS, --autotune ${AUTOTUNE_LEVELS.join('|')})`);
  }
  if (!(budgetMs > 0)) throw new Error('--budget needs a positive number of milliseconds');
  return { only, budgetMs, autotune };
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((x, i) => (x ?? '').padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  const { only, budgetMs, autotune } = parseArgs(process.argv.slice(2));
  const all = FAMILIES.flat();
  const named = (c: SpecialCase): boolean => c.group.toLowerCase() === only?.toLowerCase();
  const cases: SpecialCase[] = !only ? all : all.some(named) ? all.filter(named) : all.filter((c) => c.group.toLowerCase().includes(only.toLowerCase()));
  if (!cases.length) throw new Error(`no group matches --only ${only}; groups: ${[...new Set(FAMILIES.flat().map((c) => c.group))].join(', ')}`);
  const ctx = await openGpu();
  const runner = new KernelRunner(ctx);
  const timer = new Timer(runner);
  const timing = { ...DEFAULT_TIMING, budgetMs };
  const byGroup = new Map<string, string[][]>();
  const speedups = new Map<string, number[]>(); // "group: variant vs baseline" → ratios
  try {
    for (const [i, sc] of cases.entries()) {
      process.stderr.write(`[${i + 1}/${cases.length}] ${sc.group}: ${sc.name}\n`);
      const c = sc.build();
      const m = await measureLayer(runner, timer, c, { timing, only: sc.only, autotune });
      const base = m.variants.find((v) => v.variant === sc.baseline && v.status === 'completed');
      const rows = byGroup.get(sc.group) ?? [];
      for (const v of m.variants) {
        if (v.status === 'skipped') continue;
        const ms = v.stats?.median;
        const ratio = base && ms ? base.stats!.median / ms : NaN;
        // A tuned result is a row of its own: the variant in its fastest configuration.
        const name = v.config ? `${v.variant} ${configText(v.config)}` : v.variant;
        if (Number.isFinite(ratio) && (v.variant !== sc.baseline || v.config)) {
          const k = `${sc.group}: ${v.config ? `${v.variant} tuned` : v.variant} vs ${sc.baseline}`;
          speedups.set(k, [...(speedups.get(k) ?? []), ratio]);
        }
        rows.push([sc.name, name, ms !== undefined ? ms.toFixed(3) : v.status, Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—',
          ms !== undefined && sc.extra ? sc.extra(c, ms) : '', v.status === 'completed' ? '' : (v.reason ?? '').slice(0, 80)]);
      }
      const best = bestVariant(m.variants);
      for (const other of sc.compare ?? []) {
        const oc = other.build();
        const om = await measureLayer(runner, timer, oc, { timing });
        const ob = bestVariant(om.variants);
        const rel = best && ob ? best.stats!.median / ob.stats!.median : NaN;
        rows.push([sc.name, `${other.name} (${ob?.variant ?? 'none'})`, ob ? ob.stats!.median.toFixed(3) : 'failed', '',
          Number.isFinite(rel) ? `best ${best!.variant} is ${rel.toFixed(2)}× its time` : '', '']);
      }
      byGroup.set(sc.group, rows);
    }
  } finally {
    runner.destroy();
    closeGpu(ctx);
  }
  console.log(`bench:special on ${ctx.info.description} (${ctx.info.backend}); median ms per variant, speed-up = baseline / variant`);
  for (const [group, rows] of byGroup) {
    console.log(`\n## ${group}`);
    console.log(table(['layer', 'variant', 'median ms', 'speed-up', 'extra', 'note'], rows));
  }
  console.log('\n## geometric means of the speed-ups');
  for (const [k, rs] of speedups) console.log(`${k}: ${geomean(rs).toFixed(2)}× over ${rs.length} layer${rs.length === 1 ? '' : 's'}`);
}

await main();
