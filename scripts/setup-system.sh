#!/usr/bin/env bash
# Installs the system packages dlprof needs on a fresh Debian 12 (bookworm) machine:
#  - libonnx-testdata: ONNX's conformance suite, the test oracle for shape inference and kernels;
#  - Mesa >= 25 from bookworm-backports (lavapipe, software Vulkan) + libvulkan1, so Dawn has an
#    adapter on machines without a GPU (bookworm's own Mesa 22 is rejected by Dawn);
#  - chromium, for the HTML report test.
# Idempotent: does nothing when everything is already there. Needs root (or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
[ -d /usr/share/libonnx-testdata/data/node ] || need+=(libonnx-testdata)
mesa_ver=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$mesa_ver" in
  2[5-9].*|[3-9][0-9].*) ;;
  *) need+=(mesa-vulkan-drivers/bookworm-backports libvulkan1) ;;
esac
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup-system: all system packages present" >&2
  exit 0
fi

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
echo "setup-system: installing ${need[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
