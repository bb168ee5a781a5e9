import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { schemaErrors } from '../support/schema.js';

describe('dlprof devices', () => {
  it('lists the adapter dlprof uses, with its features and limits', async () => {
    const r = await dlprof(['devices', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = r.json();
    expect(schemaErrors('devices', doc)).toBe('');
    expect(doc.adapters.filter((a: { selected: boolean }) => a.selected)).toHaveLength(1);
    expect(doc.selected.features).toContain('timestamp-query');
    expect(doc.selected.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const human = await dlprof(['devices']);
    expect(human.stdout).toContain('dlprof uses this');
    expect(human.stdout).toContain('timestamp-query');
  });

  it('tells the features offered by default from those Dawn keeps behind a toggle, and turns the toggles on when asked', async () => {
    const plain = (await dlprof(['devices', '--json'], { DLPROF_UNLOCK_FEATURES: undefined })).json();
    expect(schemaErrors('devices', plain)).toBe('');
    expect(plain.unlocked).toBe(false);
    const state = (doc: { features: Array<{ feature: string; state: string; behind: string | null }> }, f: string) => doc.features.find((x) => x.feature === f)!;
    expect(plain.features.map((f: { feature: string }) => f.feature)).toEqual(['timestamp-query', 'shader-f16', 'subgroups',
      'chromium-experimental-subgroup-matrix', 'chromium-experimental-timestamp-query-inside-passes']);
    // A feature is available exactly when the adapter offers it without the toggles.
    for (const f of plain.features) expect(f.state === 'available', f.feature).toBe(plain.selected.features.includes(f.feature));
    for (const f of plain.features) if (f.state === 'gated') expect(f.behind).toMatch(/^(allow_unsafe_apis|vulkan_enable_f16_on_nvidia)$/);
    const unlocked = (await dlprof(['devices', '--json'], { DLPROF_UNLOCK_FEATURES: '1' })).json();
    expect(schemaErrors('devices', unlocked)).toBe('');
    expect(unlocked.unlocked).toBe(true);
    // allow_unsafe_apis reached Dawn: it offers features it withholds without it (on lavapipe, multi-draw-indirect).
    const extra = unlocked.selected.features.filter((f: string) => !plain.selected.features.includes(f));
    expect(extra.length).toBeGreaterThan(0);
    for (const f of plain.features) {
      const u = state(unlocked, f.feature);
      expect(u.state).toBe(f.state === 'gated' ? 'enabled' : f.state);
    }
    const human = await dlprof(['devices', '--unlock-features']);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/chromium-experimental-subgroup-matrix +(not offered|enabled by allow_unsafe_apis|available)/);
  });

  it('names the available adapters when --adapter matches none', async () => {
    const r = await dlprof(['devices', '--adapter', 'no-such-gpu', '--json']);
    expect(r.status).toBe(5);
    expect(schemaErrors('error', r.json())).toBe('');
    expect(r.json().error.code).toBe('E_NO_ADAPTER');
    expect(r.json().error.message).toMatch(/available: '.+'/);
  });
});
