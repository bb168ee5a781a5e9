/**
 * The machines a store knows: listing them with what each has measured, and finding one from what
 * a user typed (`--machine`): its fingerprint or a prefix of it, its row id, or a part of its name.
 */
import type { MachineFingerprint } from '../gpu/device.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';
import type { Store } from './db.js';

export interface MachineRecord extends MachineFingerprint {
  id: number;
  fingerprint: string;
  /** What reports call it: the adapter, and a software driver's settings. */
  name: string;
  createdAt: string;
}

export interface MachineSummary extends MachineRecord {
  /** Distinct layers with a completed measurement on this machine, under any conditions. */
  layers: number;
  measurements: number;
  /** Measurements that came from another store by `dlprof import`. */
  imported: number;
  conditions: string[];
  probes: Record<string, number>;
  lastMeasuredAt: string | null;
}

export function machineName(m: Pick<MachineFingerprint, 'adapterDevice' | 'adapterDescription' | 'adapterVendor' | 'driverSettings'>): string {
  const base = m.adapterDevice || m.adapterDescription || m.adapterVendor || 'unknown adapter';
  return m.driverSettings ? `${base} ${m.driverSettings}` : base;
}

function toRecord(r: Record<string, unknown>): MachineRecord {
  const fp: MachineFingerprint = {
    adapterVendor: String(r.adapter_vendor), adapterArchitecture: String(r.adapter_architecture), adapterDevice: String(r.adapter_device),
    adapterDescription: String(r.adapter_description), backend: String(r.backend), cpu: String(r.cpu), os: String(r.os),
    driverSettings: String(r.driver_settings ?? ''), dlprofVersion: String(r.dlprof_version),
  };
  return { id: Number(r.id), fingerprint: String(r.fingerprint), name: machineName(fp), createdAt: String(r.created_at), ...fp };
}

export function machineRecords(store: Store): MachineRecord[] {
  return store.sql.all('SELECT * FROM machine ORDER BY id').map(toRecord);
}

export function listMachines(store: Store): MachineSummary[] {
  const counts = new Map(store.sql.all<{ machine_id: number; layers: number; measurements: number; imported: number; last: string | null }>(
    `SELECT machine_id, COUNT(DISTINCT CASE WHEN status = 'completed' THEN layer_key END) AS layers, COUNT(*) AS measurements,
       COUNT(import_id) AS imported, MAX(created_at) AS last FROM measurement GROUP BY machine_id`).map((r) => [Number(r.machine_id), r]));
  const conditions = new Map<number, string[]>();
  for (const r of store.sql.all<{ machine_id: number; conditions: string }>('SELECT DISTINCT machine_id, conditions FROM measurement ORDER BY conditions')) {
    conditions.set(Number(r.machine_id), [...(conditions.get(Number(r.machine_id)) ?? []), r.conditions]);
  }
  const probes = new Map<number, Record<string, number>>();
  for (const r of store.sql.all<{ machine_id: number; kind: string; value: number }>(
    'SELECT p.machine_id, p.kind, p.value FROM probe p WHERE p.id = (SELECT MAX(id) FROM probe x WHERE x.machine_id = p.machine_id AND x.kind = p.kind)')) {
    probes.set(Number(r.machine_id), { ...(probes.get(Number(r.machine_id)) ?? {}), [r.kind]: r.value });
  }
  return machineRecords(store).map((m) => {
    const c = counts.get(m.id);
    return { ...m, layers: Number(c?.layers ?? 0), measurements: Number(c?.measurements ?? 0), imported: Number(c?.imported ?? 0),
      conditions: conditions.get(m.id) ?? [], probes: probes.get(m.id) ?? {}, lastMeasuredAt: c?.last ?? null };
  });
}

/**
 * The machine `query` names: an exact fingerprint, a fingerprint prefix (4+ hex digits), a row id,
 * or text found in exactly one machine's name or adapter description (case-insensitive). An
 * unknown or ambiguous name is an error that lists the machines the store knows.
 */
export function resolveMachine(store: Store, query: string): MachineRecord {
  const all = machineRecords(store);
  const q = query.trim().toLowerCase();
  const listing = (ms: MachineRecord[]): string => ms.map((m) => `${m.fingerprint} (${printable(m.name)}, ${printable(m.cpu)})`).join('; ');
  const pick = (hits: MachineRecord[]): MachineRecord | undefined => {
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) {
      throw new DlprofError(`--machine '${printable(query)}' matches ${hits.length} machines: ${listing(hits)}`, 'E_AMBIGUOUS_MACHINE', EXIT.usage,
        ['Name one by its fingerprint (see dlprof machines).']);
    }
    return undefined;
  };
  const found = pick(all.filter((m) => m.fingerprint === q))
    ?? (/^[0-9a-f]{4,}$/.test(q) ? pick(all.filter((m) => m.fingerprint.startsWith(q))) : undefined)
    ?? (/^\d+$/.test(q) ? pick(all.filter((m) => String(m.id) === q)) : undefined)
    ?? pick(all.filter((m) => m.name.toLowerCase() === q))
    ?? pick(all.filter((m) => `${m.name} ${m.adapterDescription} ${m.adapterVendor}`.toLowerCase().includes(q)));
  if (found) return found;
  throw new DlprofError(`--machine '${printable(query)}': no such machine in ${store.file}; ${all.length ? `known: ${listing(all)}` : 'the store knows no machine yet'}`,
    'E_UNKNOWN_MACHINE', EXIT.usage, ['See dlprof machines; bring another machine\'s results in with dlprof import.']);
}
