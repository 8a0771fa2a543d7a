#!/usr/bin/env bash
# `npm start`: set up everything, then boot the demo guest with its shell on this terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/src/demo/start.js "$@"
