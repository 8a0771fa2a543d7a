#!/usr/bin/env node
// The `cuju` command: the compiled CLI (npm install builds dist/).
import('../dist/src/cli/main.js')
  .then((m) => m.main(process.argv.slice(2)))
  .catch((e) => {
    process.stderr.write(`cuju: cannot start: ${e && e.message ? e.message : e} (run 'npm install' in the cuju folder)\n`);
    process.exit(1);
  });
