/**
 * `analyze --html`: one self-contained page (no network, no script): the latency ladder, a
 * per-layer waterfall of the measured run, a roofline plot and the suggestions, as inline SVG.
 * Every string from the model is escaped.
 */
import { si } from '../util/format.js';
import type { AnalyzeLayer, AnalyzeResult } from './analyze.js';
import { backendText } from './bench.js';

export function escapeHtml(s: string): string {
  // Control characters are shown as escapes: they have no business in a page.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!)
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const e = escapeHtml;
const n2 = (v: number | null | undefined, d = 2): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));

const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

function ladder(r: AnalyzeResult): string {
  const L = r.latency;
  const rows: Array<[string, number | null]> = [
    ['measured', L.measuredMs], ['reconstructed', L.reconstructedMs], ['sequential lower bound', L.sequentialLowerBoundMs],
    ['parallel lower bound', L.parallelLowerBoundMs], ['ideal', L.idealMs], ['framework (onnxruntime webgpu)', L.frameworkMs],
  ];
  const max = Math.max(...rows.map(([, v]) => v ?? 0), 1e-9);
  const W = 520;
  const bars = rows.map(([label, v], i) => {
    const w = v === null ? 0 : (W * v) / max;
    return `<g transform="translate(0,${i * 26})"><text x="210" y="16" text-anchor="end">${e(label)}</text>`
      + `<rect x="220" y="3" width="${w.toFixed(1)}" height="18" fill="${COLORS[i]}"><title>${e(label)}: ${n2(v, 3)} ms</title></rect>`
      + `<text x="${(226 + w).toFixed(1)}" y="16">${v === null ? 'not measured' : `${n2(v, 3)} ms`}</text></g>`;
  }).join('');
  return `<svg role="img" aria-label="latency ladder" width="860" height="${rows.length * 26 + 6}" font-size="12">${bars}</svg>`;
}

function waterfall(layers: AnalyzeLayer[]): string {
  const ran = layers.filter((l) => l.startMs !== null && l.runMs !== null);
  if (!ran.length) return '<p>No measured end-to-end run.</p>';
  const end = Math.max(...ran.map((l) => l.startMs! + l.runMs!), 1e-9);
  const ops = [...new Set(ran.map((l) => l.op))];
  const W = 820;
  const H = 10;
  const rows = ran.map((l, i) => {
    const x = 30 + (W * l.startMs!) / end;
    const w = Math.max(0.5, (W * l.runMs!) / end);
    return `<rect x="${x.toFixed(2)}" y="${i * H}" width="${w.toFixed(2)}" height="${H - 2}" fill="${COLORS[ops.indexOf(l.op) % COLORS.length]}">`
      + `<title>${e(l.node)} (${e(l.op)}, ${e(l.variant ?? '')}): ${n2(l.runMs, 3)} ms at ${n2(l.startMs, 3)} ms</title></rect>`;
  }).join('');
  const legend = ops.map((op, i) => `<span class="key" style="background:${COLORS[i % COLORS.length]}"></span>${e(op)}`).join(' ');
  return `<p>${legend}</p><svg role="img" aria-label="waterfall" width="880" height="${ran.length * H + 20}" font-size="11">${rows}`
    + `<text x="30" y="${ran.length * H + 14}">0 ms</text><text x="${30 + W}" y="${ran.length * H + 14}" text-anchor="end">${n2(end, 3)} ms</text></svg>`;
}

function rooflinePlot(r: AnalyzeResult): string {
  const P = r.machine.peaks.fmaF32GflopS;
  const B = r.machine.peaks.copyGBs;
  const pts = r.layers.filter((l) => l.achievedGflops !== null && l.flops > 0 && l.bytes > 0);
  if (!P || !B || !pts.length) return '<p>No roofline: peaks or measurements missing.</p>';
  const W = 600;
  const H = 360;
  const xs = pts.map((l) => l.intensity);
  const xmin = Math.min(...xs, P / B) / 4;
  const xmax = Math.max(...xs, P / B) * 4;
  const ymax = P * 2;
  const ymin = Math.min(...pts.map((l) => l.achievedGflops!), B * xmin) / 2;
  const X = (v: number): number => 50 + (W * Math.log(v / xmin)) / Math.log(xmax / xmin);
  const Y = (v: number): number => 10 + H - (H * Math.log(Math.max(v, ymin) / ymin)) / Math.log(ymax / ymin);
  const ridge = P / B;
  const roof = `<polyline fill="none" stroke="#333" stroke-width="2" points="${X(xmin)},${Y(B * xmin)} ${X(ridge)},${Y(P)} ${X(xmax)},${Y(P)}"/>`;
  const ops = [...new Set(pts.map((l) => l.op))];
  const dots = pts.map((l) => `<circle cx="${X(l.intensity).toFixed(1)}" cy="${Y(l.achievedGflops!).toFixed(1)}" r="4" fill="${COLORS[ops.indexOf(l.op) % COLORS.length]}" fill-opacity="0.8">`
    + `<title>${e(l.node)} (${e(l.op)}): ${n2(l.intensity)} FLOP/B, ${n2(l.achievedGflops)} GFLOP/s, ${n2(100 * (l.fractionOfPeak ?? 0), 0)}% of roof</title></circle>`).join('');
  const legend = ops.map((op, i) => `<span class="key" style="background:${COLORS[i % COLORS.length]}"></span>${e(op)}`).join(' ');
  return `<p>${legend}</p><svg role="img" aria-label="roofline" width="${W + 80}" height="${H + 50}" font-size="11">`
    + `<rect x="50" y="10" width="${W}" height="${H}" fill="none" stroke="#ccc"/>${roof}${dots}`
    + `<text x="${50 + W / 2}" y="${H + 40}" text-anchor="middle">arithmetic intensity (FLOP/byte, log)</text>`
    + `<text x="12" y="${10 + H / 2}" transform="rotate(-90 12 ${10 + H / 2})" text-anchor="middle">GFLOP/s (log)</text>`
    + `<text x="${X(xmax) - 4}" y="${Y(P) - 4}" text-anchor="end">peak ${n2(P, 1)} GFLOP/s</text>`
    + `<text x="${X(xmin) + 4}" y="${Y(B * xmin) - 6}">${n2(B, 1)} GB/s</text></svg>`;
}

export function renderHtml(r: AnalyzeResult): string {
  const L = r.latency;
  const sugg = r.suggestions.map((s, i) => `<tr><td>${i + 1}</td><td>${e(s.kind)}</td><td>${n2(s.savingMs, 3)}</td><td>${n2(s.savingPct, 1)}%</td>`
    + `<td>${e(s.message)}${s.nodes.length ? `<br><small>${s.nodes.map(e).join(', ')}</small>` : ''}</td></tr>`).join('');
  const ops = r.byOp.map((o) => `<tr><td>${e(o.op)}</td><td>${o.count}</td><td>${n2(o.ms, 3)}</td><td>${n2(o.pct, 1)}%</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dlprof — ${e(r.model.name)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
.bad{color:#b00;font-weight:bold}.good{color:#070}
small{color:#666}
</style></head><body>
<h1>dlprof: ${e(r.model.path)}</h1>
<p>${r.model.layerCount} layers (${r.model.uniqueLayerCount} unique) · ${e(si(r.model.flops, 'FLOP'))} · on ${e(r.machine.adapterDescription)} (${e(backendText(r.machine))})</p>
${r.correctness ? `<p class="${r.correctness.ok ? 'good' : 'bad'}">${r.correctness.ok ? 'Outputs match' : 'Outputs DIFFER from'} ${e(r.correctness.reference)} (rtol ${r.correctness.tolerance.rtol}).</p>` : ''}
<h2>Latency ladder</h2>
${ladder(r)}
<p>Reconstruction error: ${L.reconstructionError === null ? '—' : `${n2(100 * L.reconstructionError, 1)}%`}</p>
<h2>Suggestions</h2>
${sugg ? `<table><tr><th>#</th><th>kind</th><th>saves ms</th><th>%</th><th>what to do</th></tr>${sugg}</table>` : '<p>None.</p>'}
<h2>Waterfall of the measured run</h2>
${waterfall(r.layers)}
<h2>Roofline</h2>
${rooflinePlot(r)}
<h2>Where the time goes</h2>
<table><tr><th>op</th><th>layers</th><th>ms</th><th>share</th></tr>${ops}</table>
${r.notes.length ? `<h2>Notes</h2><ul>${r.notes.map((x) => `<li>${e(x)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}
