/** `dlprof machines` output: the JSON document (schemas/machines.schema.json) and its terminal table. */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import type { MachineSummary } from '../store/machines.js';
import { printable } from '../util/errors.js';

export const MACHINES_SCHEMA_VERSION = 1;

export interface MachinesResult {
  schemaVersion: number;
  db: string;
  machines: MachineSummary[];
}

export function renderMachines(r: MachinesResult, c: ChalkInstance): string {
  if (!r.machines.length) return `${printable(r.db)}: no machines yet (dlprof bench or analyze measures this one; dlprof import brings others).`;
  const t = new Table({
    head: ['fingerprint', 'adapter', 'backend', 'cpu', 'layers', 'measurements', 'imported', 'peaks'].map((h) => c.bold(h)),
    style: { head: [], border: [] }, wordWrap: true, colWidths: [18, 30, 9, 26, 8, 14, 10, 24],
  });
  for (const m of r.machines) {
    const p = m.probes;
    const peaks = [p['fma-f32'] ? `${(p['fma-f32'] / 1000).toFixed(1)} TFLOP/s` : '', p.copy ? `${p.copy.toFixed(0)} GB/s` : ''].filter(Boolean).join(', ') || '—';
    t.push([m.fingerprint, `${printable(m.name)}\n${c.dim(printable(m.adapterDescription, 60))}`, m.backend, printable(m.cpu, 60), m.layers, m.measurements, m.imported, peaks]);
  }
  return `${printable(r.db)}\n${t.toString()}`;
}
