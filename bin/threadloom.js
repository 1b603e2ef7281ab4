#!/usr/bin/env node
// The compiled CLI (`npm run build` writes dist/).
await import('../dist/src/cli.js');
