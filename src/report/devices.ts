import type { ChalkInstance } from 'chalk';
import type { AdapterDescription } from '../gpu/device.js';
import type { FeatureStatus } from '../gpu/features.js';
import { printable } from '../util/errors.js';
import { bytes } from '../util/format.js';

export const DEVICES_SCHEMA_VERSION = 2;

export interface DevicesResult {
  schemaVersion: number;
  adapters: Array<{ backend: string; name: string; selected: boolean }>;
  selected: AdapterDescription;
  /** The adapter was asked for with the unlock toggles on (--unlock-features). */
  unlocked: boolean;
  /** The key features' states, gated ones with the toggle they are behind (gpu/features.ts). */
  features: FeatureStatus[];
}


export function renderDevices(r: DevicesResult, c: ChalkInstance): string {
  const lines: string[] = ['Adapters Dawn sees:'];
  for (const a of r.adapters) lines.push(`  ${a.selected ? c.green('●') : '○'} ${printable(a.name)} (${a.backend})${a.selected ? c.green('  ← dlprof uses this') : ''}`);
  const s = r.selected;
  lines.push('', c.bold(printable(s.name)));
  lines.push(`  vendor ${printable(s.vendor) || '—'} · architecture ${printable(s.architecture) || '—'} · device ${printable(s.device) || '—'} · backend ${s.backend}${s.isFallback ? ' · software (fallback adapter)' : ''}`);
  lines.push('  key features:');
  const state = (f: FeatureStatus): string => ({
    available: c.green('available'),
    enabled: c.green(`enabled by ${f.behind}`),
    gated: c.yellow(`gated: behind Dawn's ${f.behind} (--unlock-features)`),
    absent: c.dim('not offered, even with the toggles'),
  })[f.state];
  const width = Math.max(...r.features.map((f) => f.feature.length));
  for (const f of r.features) lines.push(`    ${f.feature.padEnd(width)}  ${state(f)} ${c.dim(`— ${f.use}`)}`);
  lines.push(`  all features: ${s.features.join(', ')}`);
  const l = s.limits;
  lines.push(`  limits: buffer ${bytes(l.maxBufferSize)}, storage binding ${bytes(l.maxStorageBufferBindingSize)}, workgroup storage ${bytes(l.maxComputeWorkgroupStorageSize)}, `
    + `${l.maxComputeInvocationsPerWorkgroup} invocations/workgroup, ${l.maxComputeWorkgroupsPerDimension} workgroups/dimension, `
    + `${l.maxStorageBuffersPerShaderStage} storage buffers/stage${s.subgroupMinSize ? `, subgroup size ${s.subgroupMinSize}–${s.subgroupMaxSize}` : ''}`);
  if (!s.features.includes('timestamp-query')) lines.push(c.yellow('  no timestamp-query: timings fall back to wall-clock time around each submission (less precise).'));
  lines.push('', c.dim("Pick another with --adapter '<part of its name>' or --backend <vulkan|metal|d3d12|…>."));
  return lines.join('\n');
}
