import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { ROOT, tempDir } from '../support/models.js';
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

/**
 * Runs dlprof through the shell with stderr to a file or a shell pipe, as users do (the test
 * helper's pipes are sockets, where the driver's messages cannot be hidden: see src/gpu/quiet.ts).
 */
function shell(script: string, env: Record<string, string | undefined> = {}): Promise<{ status: number; stdout: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', script], { cwd: ROOT, env: childEnv, encoding: 'utf8', timeout: 120_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ status: err ? Number(err.code) : 0, stdout });
    });
  });
}

describe("the GPU driver's own messages", () => {
  const dir = tempDir();
  const run = `${JSON.stringify(process.execPath)} bin/run.js`;

  it('stay off stderr unless --verbose or DEBUG=dlprof* asks for them', async () => {
    const software = /llvmpipe|lavapipe|SwiftShader/i.test((await dlprof(['devices', '--json'])).json().selected.description);
    // stderr to a shell pipe, and to a file.
    const piped = await shell(`${run} devices 2>&1 >/dev/null | cat`, { DEBUG: undefined });
    expect(piped.status).toBe(0);
    expect(piped.stdout).not.toMatch(/^Warning: /m);
    const file = path.join(dir, 'stderr.txt');
    expect((await shell(`${run} devices >/dev/null 2>${file}`, { DEBUG: undefined })).status).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).not.toMatch(/^Warning: /m);
    for (const [flag, env] of [['--verbose', {}], ['', { DEBUG: 'dlprof*' }]] as const) {
      const loud = await shell(`${run} devices ${flag} 2>&1 >/dev/null | cat`, env);
      expect(loud.status).toBe(0);
      // Dawn on Mesa's software Vulkan warns about its dynamic-buffer limits on every adapter request.
      if (software) expect(loud.stdout).toMatch(/^Warning: maxDynamic\w+ artificially reduced/m);
    }
    // After the hidden messages, stderr is back: dlprof's own errors still reach it, after what was there.
    fs.writeFileSync(file, 'before\n');
    expect((await shell(`${run} devices --adapter no-such-gpu >/dev/null 2>>${file}`)).status).toBe(5);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.startsWith('before\n')).toBe(true);
    expect(text).toContain('E_NO_ADAPTER');
    expect(text).not.toMatch(/^Warning: /m);
  });
});
