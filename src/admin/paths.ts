import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's `views/` folder, found upward from this file (src/admin or dist/src/admin). */
export function viewsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'views');
    if (existsSync(path.join(candidate, 'layout.eta'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('the admin views folder (views/layout.eta) was not found above src/admin');
    dir = parent;
  }
}

/** htmx's prebuilt files, straight from node_modules: no front-end build step. */
export function htmxDistDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('htmx.org/package.json')), 'dist');
}
