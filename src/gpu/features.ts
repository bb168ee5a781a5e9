/**
 * WebGPU features that decide what dlprof can measure and what the ideal latency may use, and the
 * Dawn settings some of them are behind. Dawn withholds a few features an adapter's driver has:
 * experimental ones (subgroup matrices, timestamps inside passes) unless the `allow_unsafe_apis`
 * toggle is on, and shader-f16 on NVIDIA's Vulkan driver unless `vulkan_enable_f16_on_nvidia` is
 * (it is off there by default for conformance failures, crbug.com/42251215). An H200 with NVIDIA's
 * Vulkan driver offered no shader-f16 without it. `dlprof devices` asks the adapter twice, without
 * and with these toggles, and shows which features only the toggles bring; `--unlock-features`
 * (or DLPROF_UNLOCK_FEATURES=1) opens the device with them.
 */

/** The toggles --unlock-features turns on, passed to Dawn as adapter toggles. */
export const UNLOCK_TOGGLES = ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia'] as const;

/** The environment variable that turns --unlock-features on for every command and bench script. */
export const UNLOCK_ENV = 'DLPROF_UNLOCK_FEATURES';

export interface FeatureInfo {
  feature: string;
  /** What dlprof uses it for. */
  use: string;
  /** The toggle Dawn may keep it behind (null: none; the driver has it or not). */
  toggle: (typeof UNLOCK_TOGGLES)[number] | null;
}

/** The features `dlprof devices` reports one by one. */
export const KEY_FEATURES: FeatureInfo[] = [
  { feature: 'timestamp-query', use: 'GPU timestamps around each pass (else wall-clock timing)', toggle: null },
  { feature: 'shader-f16', use: 'f16 kernel variants, used by the ideal latency where faster', toggle: 'vulkan_enable_f16_on_nvidia' },
  { feature: 'subgroups', use: 'subgroup kernel variants (reductions, GEMM)', toggle: null },
  { feature: 'chromium-experimental-subgroup-matrix', use: 'subgroup matrices (cooperative matrix: Tensor Cores on NVIDIA); no dlprof kernel uses them yet', toggle: 'allow_unsafe_apis' },
  { feature: 'chromium-experimental-timestamp-query-inside-passes', use: 'timestamps between dispatches inside one pass; not used yet', toggle: 'allow_unsafe_apis' },
];

export type FeatureState = 'available' | 'enabled' | 'gated' | 'absent';

export interface FeatureStatus {
  feature: string;
  /**
   * available: offered by default; enabled: offered only with the toggles, which are on;
   * gated: offered only with the toggles, which are off; absent: not offered even with them.
   */
  state: FeatureState;
  /** For enabled and gated: the toggle that brings it. */
  behind: string | null;
  use: string;
}

/**
 * Each key feature's state, from the adapter's features without the toggles and with them.
 * A feature that only the toggles bring is behind its own toggle where it has one, else behind
 * allow_unsafe_apis.
 */
export function featureStates(plain: readonly string[], unlocked: readonly string[], unlockOn: boolean): FeatureStatus[] {
  return KEY_FEATURES.map(({ feature, use, toggle }) => {
    const behind = toggle ?? 'allow_unsafe_apis';
    if (plain.includes(feature)) return { feature, state: 'available', behind: null, use };
    if (unlocked.includes(feature)) return { feature, state: unlockOn ? 'enabled' : 'gated', behind, use };
    return { feature, state: 'absent', behind: null, use };
  });
}
