#!/usr/bin/env bash
# Everything `npm start` and `npm test` need, idempotently, with progress:
# npm dependencies and the native addon, the TypeScript build, the guest images.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'cuju setup: %s\n' "$*" >&2; }

if ! command -v make >/dev/null || ! command -v g++ >/dev/null || ! command -v python3 >/dev/null; then
  say "installing the native build toolchain (build-essential, python3) from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends build-essential python3 >&2
fi
# Host tools the README and benchmarks use: nc -U for the monitor, QEMU for baselines.
missing=()
command -v nc >/dev/null || missing+=(netcat-openbsd)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing host tools from Debian: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if [ ! -f node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ] || [ ! -f build/Release/cuju_native.node ]; then
  say "installing npm dependencies and building the native addon (npm install)"
  npm install --no-audit --no-fund >&2
elif [ -n "$(find native binding.gyp -newer build/Release/cuju_native.node 2>/dev/null | head -1)" ]; then
  say "native sources changed: rebuilding the addon"
  npm run --silent install >&2
fi
say "compiling TypeScript"
npx tsc -p tsconfig.json >&2
say "guest kernel and initramfs (cached; the first build takes ~7 minutes)"
node dist/src/guest/build-cli.js >&2
