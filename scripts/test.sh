#!/usr/bin/env bash
# `npm test`: set up what is missing, then run every test file with node's test runner.
# Files run one at a time: guest-booting tests each take the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
files=$(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=1 ${CUJU_TEST_ARGS:-} $files
