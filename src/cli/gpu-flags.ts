/** Flags shared by commands that use the GPU or the store. */
import { Flags } from '@oclif/core';
import { AUTOTUNE_LEVELS } from '../kernels/types.js';

export const gpuFlags = {
  adapter: Flags.string({ description: "Use the adapter whose name contains this text (see 'dlprof devices')." }),
  verbose: Flags.boolean({ description: "Show the GPU driver's own messages (Dawn's warnings), hidden by default; DEBUG=dlprof* does the same." }),
  backend: Flags.string({ description: 'Dawn backend: vulkan, metal, d3d12, d3d11, opengl, opengles.', options: ['vulkan', 'metal', 'd3d12', 'd3d11', 'opengl', 'opengles'] }),
  'unlock-features': Flags.boolean({
    description: "Turn on the Dawn toggles that gated features are behind (allow_unsafe_apis, vulkan_enable_f16_on_nvidia): shader-f16 on NVIDIA's Vulkan driver, subgroup matrices. 'dlprof devices' shows what they bring.",
    env: 'DLPROF_UNLOCK_FEATURES',
    default: false,
  }),
};

export const storeFlags = {
  db: Flags.string({ description: 'Results database: a SQLite file, or a postgres:// URL shared by a fleet (default: $DLPROF_DB, else $XDG_DATA_HOME/dlprof/dlprof.sqlite).', env: 'DLPROF_DB' }),
};

/** Flags of commands that benchmark layers. */
export const measureFlags = {
  autotune: Flags.string({
    description: "How hard to search the configurations (the GEMM core's tiles) of each layer's fastest tunable variant: off, quick (a few chosen "
      + 'for the shape), full (all that fit the device). The fastest is stored and shown beside its variant. Default: quick on a GPU; off on a '
      + 'software adapter (lavapipe), where it would tune for a CPU and each configuration costs seconds to compile.',
    options: [...AUTOTUNE_LEVELS],
  }),
};
