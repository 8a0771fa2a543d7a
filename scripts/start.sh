#!/usr/bin/env bash
# `npm start`: set up everything, then run the fault-tolerance demo (src/demo/start.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/src/demo/start.js "$@"
