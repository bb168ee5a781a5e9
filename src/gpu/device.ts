/**
 * WebGPU through Dawn's Node bindings (`webgpu`): adapter discovery, device creation with the
 * features dlprof needs, and the machine fingerprint measurements are keyed by. Nothing outside
 * gpu/ and bench/ touches WebGPU.
 *
 * Dawn's native warnings on adapter requests are hidden unless asked for (quiet.ts).
 *
 * Timestamps: Dawn quantizes timestamp queries (to ~65 µs on some drivers) unless the
 * `timestamp_quantization` toggle is disabled, which we always do.
 */
import os from 'node:os';
import { createRequire } from 'node:module';
import { DlprofError, EXIT } from '../util/errors.js';
import { featureStates, UNLOCK_ENV, UNLOCK_TOGGLES, type FeatureStatus } from './features.js';
import { quietly } from './quiet.js';

const require = createRequire(import.meta.url);

/** lavapipe's (and llvmpipe's) worker threads: dlprof's default is 0, see webgpu(). */
const LAVAPIPE_THREADS = 'LP_NUM_THREADS';

type WebGpuModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };
let mod: WebGpuModule | undefined;

function webgpu(): WebGpuModule {
  if (!mod) {
    if (!process.env.XDG_RUNTIME_DIR) {
      // Mesa's Vulkan drivers warn (and some fail) without it; a private temp dir is fine.
      const dir = `${os.tmpdir()}/dlprof-xdg-${process.getuid?.() ?? 0}`;
      require('node:fs').mkdirSync(dir, { recursive: true, mode: 0o700 });
      process.env.XDG_RUNTIME_DIR = dir;
    }
    // Mesa's software Vulkan (lavapipe) hands every dispatch to a worker thread per core unless
    // told otherwise; the hand-offs dominate µs-scale layers and, on a small VM, scatter their
    // times. Unless the user chose, it runs on its queue thread: on our 2-core VM this took the
    // tiny models' reconstruction errors (bench:accuracy, three rounds each, the same hour) from
    // a worst median of 16.6 % (single analyses −13 % to +20 %) to 9.9 % (all other models
    // within 4 %), and 5.0 % in the run after dlprof set it; resnet-tiny's run went from 7.1 to
    // 4.6 ms. Only Mesa's software drivers read it.
    process.env[LAVAPIPE_THREADS] ??= '0';
    mod = require('webgpu') as WebGpuModule;
    // GPUBufferUsage and friends are used as globals by WebGPU code.
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  return mod;
}

export interface AdapterSelection {
  /** Substring of the adapter name (Dawn's `adapter=` option). */
  adapter?: string;
  /** Dawn backend: vulkan, metal, d3d12, d3d11, opengl, opengles, null. */
  backend?: string;
  powerPreference?: GPUPowerPreference;
  /** Turn on the Dawn toggles that gated features are behind (features.ts); default: $DLPROF_UNLOCK_FEATURES=1. */
  unlock?: boolean;
}

const unlocking = (sel: AdapterSelection): boolean => sel.unlock ?? process.env[UNLOCK_ENV] === '1';

export interface AdapterDescription {
  name: string;
  backend: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallback: boolean;
  features: string[];
  limits: Record<string, number>;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

export interface GpuContext {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterDescription;
  /** timestamp-query is enabled (else only wall-clock timing is available). */
  timestamps: boolean;
  /** shader-f16 is enabled. */
  f16: boolean;
  subgroups: boolean;
  /** The device was opened with the toggles that gated features are behind (--unlock-features). */
  unlocked: boolean;
  /** Set when the device is lost; every later GPU call fails. */
  lost?: string;
}

const KEY_LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage', 'maxUniformBufferBindingSize'] as const;

function dawnFlags(sel: AdapterSelection): string[] {
  const flags = ['disable-dawn-features=timestamp_quantization'];
  if (sel.backend) flags.push(`backend=${sel.backend}`);
  if (sel.adapter) flags.push(`adapter=${sel.adapter}`);
  if (unlocking(sel)) flags.push(`enable-dawn-features=${UNLOCK_TOGGLES.join(',')}`);
  return flags;
}

function describe(adapter: GPUAdapter, backend: string): AdapterDescription {
  const i = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
  const limits: Record<string, number> = {};
  for (const k of KEY_LIMITS) limits[k] = Number((adapter.limits as unknown as Record<string, number>)[k]);
  return {
    name: i.description || i.device || i.vendor || 'unknown adapter',
    backend,
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    isFallback: !!i.isFallbackAdapter,
    features: [...adapter.features].sort(),
    limits,
    subgroupMinSize: i.subgroupMinSize,
    subgroupMaxSize: i.subgroupMaxSize,
  };
}

/** What to tell a user who has no adapter at all. */
export const NO_ADAPTER_SUGGESTIONS = [
  'Install a Vulkan driver. Without a GPU, Mesa 25 or newer provides lavapipe (software Vulkan): on Debian 12, '
    + "add bookworm-backports and 'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1' (scripts/setup-system.sh does this).",
  'With an NVIDIA GPU, install its driver (it brings its Vulkan ICD) and libvulkan1.',
  "Run 'dlprof devices' to see what Dawn finds.",
];

/**
 * Every adapter Dawn offers, as (backend, name) pairs. Dawn lists them when asked for an adapter
 * name that does not exist; that list is the only enumeration its Node bindings expose.
 */
let adapterList: Promise<Array<{ backend: string; name: string }>> | undefined;

export function listAdapterNames(): Promise<Array<{ backend: string; name: string }>> {
  // Once per process: each call creates a Dawn instance that lives until exit.
  adapterList ??= (async () => {
    try {
      await quietly(() => webgpu().create(['adapter=dlprof-no-such-adapter']).requestAdapter());
    } catch (e) {
      return parseAdapterList((e as Error).message);
    }
    return [];
  })();
  return adapterList;
}

/** Whether Dawn's adapter name (e.g. 'llvmpipe (LLVM 15…)') and an adapter description name the same device. */
export function sameAdapter(listed: string, description: string): boolean {
  const head = (s: string): string => s.split(/[\s:(]/)[0].toLowerCase();
  return listed === description || description.startsWith(listed) || (head(listed) !== '' && head(listed) === head(description));
}

export function parseAdapterList(message: string): Array<{ backend: string; name: string }> {
  const out: Array<{ backend: string; name: string }> = [];
  for (const m of message.matchAll(/backend: '([^']*)', name: '([^']*)'/g)) out.push({ backend: m[1], name: m[2] });
  return out;
}

/** Requests an adapter; undefined when none matches. */
export async function requestAdapter(sel: AdapterSelection = {}): Promise<{ gpu: GPU; adapter: GPUAdapter; backend: string } | undefined> {
  // Listed before the measuring instance exists, so the two never process events concurrently.
  const names = await listAdapterNames();
  let gpu: GPU;
  try {
    gpu = webgpu().create(dawnFlags(sel));
  } catch (e) {
    throw new DlprofError(`no WebGPU adapter matches${sel.adapter ? ` --adapter '${sel.adapter}'` : ''}${sel.backend ? ` --backend ${sel.backend}` : ''}: ${(e as Error).message.split('\n')[0]}`,
      'E_NO_ADAPTER', EXIT.device, ["Run 'dlprof devices' to list adapters."]);
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await quietly(() => gpu.requestAdapter({ powerPreference: sel.powerPreference ?? 'high-performance' }));
  } catch (e) {
    const listed = parseAdapterList((e as Error).message).map((a) => `'${a.name}' (${a.backend})`);
    throw new DlprofError(`no WebGPU adapter matches${sel.adapter ? ` --adapter '${sel.adapter}'` : ''}${sel.backend ? ` --backend ${sel.backend}` : ''}`
      + `${listed.length ? `; available: ${listed.join(', ')}` : ''}`, 'E_NO_ADAPTER', EXIT.device,
      listed.length ? ['Pass part of one of those names to --adapter.'] : NO_ADAPTER_SUGGESTIONS);
  }
  if (!adapter) return undefined;
  const d = adapter.info.description;
  const backend = sel.backend ?? names.find((n) => sameAdapter(n.name, d))?.backend ?? names[0]?.backend ?? 'unknown';
  return { gpu, adapter, backend };
}

/**
 * The adapters Dawn lists, the chosen one described, and its key features' states: the adapter is
 * asked a second time with the unlock toggles on, and what only they bring is gated behind them.
 */
export async function describeAdapters(sel: AdapterSelection = {}): Promise<{ chosen?: AdapterDescription; all: Array<{ backend: string; name: string }>; features: FeatureStatus[] }> {
  const all = await listAdapterNames();
  const unlock = unlocking(sel);
  const plain = await requestAdapter({ ...sel, unlock: false });
  const unlocked = await requestAdapter({ ...sel, unlock: true });
  const chosen = (unlock ? unlocked : plain) ?? plain;
  const names = (r: typeof plain): string[] => (r ? [...r.adapter.features] : []);
  return { chosen: chosen ? describe(chosen.adapter, chosen.backend) : undefined, all, features: featureStates(names(plain), names(unlocked), unlock) };
}

/**
 * Opens the device dlprof measures on, with timestamp-query (and shader-f16, subgroups where the
 * adapter has them; with sel.unlock, the features gated behind Dawn toggles too: features.ts) and
 * the adapter's full limits.
 * @throws DlprofError (exit 5) when there is no adapter, saying what to install.
 */
export async function openGpu(sel: AdapterSelection = {}): Promise<GpuContext> {
  const r = await requestAdapter(sel);
  if (!r) {
    throw new DlprofError('no WebGPU adapter found (Dawn found no usable Vulkan/Metal/D3D12 device)', 'E_NO_ADAPTER', EXIT.device, NO_ADAPTER_SUGGESTIONS);
  }
  const { gpu, adapter, backend } = r;
  // The experimental features are offered only with the unlock toggles; nothing measures with them yet,
  // but a device that has them lets kernels be tried.
  const wanted = ['timestamp-query', 'shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix', 'chromium-experimental-timestamp-query-inside-passes'] as GPUFeatureName[];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const k of KEY_LIMITS) requiredLimits[k] = Number((adapter.limits as unknown as Record<string, number>)[k]);
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'dlprof' });
  const ctx: GpuContext = {
    gpu, adapter, device, info: describe(adapter, backend),
    timestamps: device.features.has('timestamp-query'),
    f16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    unlocked: unlocking(sel),
  };
  void device.lost.then((info) => { if (info.reason !== 'destroyed') ctx.lost = info.message || String(info.reason); });
  return ctx;
}

/** Releases the device (Dawn keeps Node alive while a GPU object is referenced). */
export function closeGpu(ctx: GpuContext): void {
  ctx.device.destroy();
}

/** Stable identity of the machine for the store: adapter, driver (and a software driver's settings), backend, CPU, OS, dlprof version. */
export interface MachineFingerprint {
  adapterVendor: string;
  adapterArchitecture: string;
  adapterDevice: string;
  adapterDescription: string;
  backend: string;
  cpu: string;
  os: string;
  /**
   * For a software adapter, the environment settings that change how it runs (its worker threads:
   * `LP_NUM_THREADS=0`), so that results taken with different ones are not mixed; '' otherwise.
   */
  driverSettings: string;
  dlprofVersion: string;
}

export function fingerprint(ctx: GpuContext, dlprofVersion: string): MachineFingerprint {
  return {
    adapterVendor: ctx.info.vendor,
    adapterArchitecture: ctx.info.architecture,
    adapterDevice: ctx.info.device,
    adapterDescription: ctx.info.description,
    backend: ctx.info.backend,
    cpu: `${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    driverSettings: ctx.info.isFallback && process.env[LAVAPIPE_THREADS] !== undefined ? `${LAVAPIPE_THREADS}=${process.env[LAVAPIPE_THREADS]}` : '',
    dlprofVersion,
  };
}
