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

  it('names the available adapters when --adapter matches none', async () => {
    const r = await dlprof(['devices', '--adapter', 'no-such-gpu', '--json']);
    expect(r.status).toBe(5);
    expect(schemaErrors('error', r.json())).toBe('');
    expect(r.json().error.code).toBe('E_NO_ADAPTER');
    expect(r.json().error.message).toMatch(/available: '.+'/);
  });
});
