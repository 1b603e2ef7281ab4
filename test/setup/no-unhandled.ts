/**
 * Fails the test during which a promise rejection went unhandled (vitest alone reports it for the
 * whole run, not the test that caused it). Registered once per worker process.
 */
import { afterAll, afterEach } from 'vitest';

const KEY = Symbol.for('threadloom.test.unhandledRejections');
type Store = { errors: unknown[] };
const globals = globalThis as typeof globalThis & { [KEY]?: Store };

const store: Store = globals[KEY] ?? { errors: [] };
if (!globals[KEY]) {
  globals[KEY] = store;
  process.on('unhandledRejection', (reason) => {
    store.errors.push(reason);
  });
}

async function check(): Promise<void> {
  // a rejection from the test's last moments is reported on a later turn of the event loop
  await new Promise((resolve) => setImmediate(resolve));
  if (store.errors.length === 0) return;
  const errors = store.errors.splice(0);
  const first = errors[0];
  const detail = first instanceof Error ? (first.stack ?? first.message) : String(first);
  throw new Error(`${errors.length} unhandled promise rejection(s) during this test; first: ${detail}`, {
    cause: first,
  });
}

afterEach(check);
afterAll(check);
