#!/usr/bin/env bash
# Sets up dlprof on a fresh Debian 12 machine: system packages (ONNX conformance data, Mesa's
# software Vulkan driver for WebGPU, Chromium), the npm dependencies, the build, and the bundled
# models. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
export ONNXRUNTIME_NODE_INSTALL=skip
# better-sqlite3 compiles against this Node's headers when no prebuilt binary can be fetched; where
# they were installed with Node (Debian's nodejs: /usr/include/node), use them instead of letting
# node-gyp download them, which needs the network.
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # The lockfile lists rollup's other-platform optional packages by version, os and cpu only (the
  # registry mirror it was made against has no tarballs for them), so `npm ci` accepts it and skips
  # them here; npm install stays as the fallback for a lockfile out of step with package.json.
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
fi
npm run build --silent
node dist/models/build.js resnet50 >&2
