/** Flags shared by commands that use the GPU or the store. */
import { Flags } from '@oclif/core';

export const gpuFlags = {
  adapter: Flags.string({ description: "Use the adapter whose name contains this text (see 'dlprof devices')." }),
  backend: Flags.string({ description: 'Dawn backend: vulkan, metal, d3d12, d3d11, opengl, opengles.', options: ['vulkan', 'metal', 'd3d12', 'd3d11', 'opengl', 'opengles'] }),
};

export const storeFlags = {
  db: Flags.string({ description: 'Results database: a SQLite file, or a postgres:// URL shared by a fleet (default: $DLPROF_DB, else $XDG_DATA_HOME/dlprof/dlprof.sqlite).', env: 'DLPROF_DB' }),
};
