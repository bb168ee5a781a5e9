#!/usr/bin/env bash
# Sets up dlprof on a fresh Debian 12 machine: system packages (ONNX conformance data, Mesa's
# software Vulkan driver for WebGPU, Chromium), the npm dependencies, the build, and the bundled
# models. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci refuses lockfiles whose optional platform packages (rollup's, esbuild's) the registry
  # mirror does not list; npm install then installs the same locked versions.
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
fi
npm run build --silent
node dist/models/build.js resnet50 >&2
