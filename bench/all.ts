/**
 * `npm run bench`: every benchmark, one after the other on the current build, each in its own
 * process so one's memory and warm caches do not touch the next. Prints each one's
 * `figure_name: value unit` lines under its name, the machine's load before each (the cores are
 * shared: read the figures against it), and at the end which benchmarks failed.
 * `BENCH_ONLY=api,chat npm run bench` runs some of them.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './process.js';

/** in the order they run: the short ones first, so a failure shows early */
const BENCHES = ['context', 'turn', 'api', 'chat', 'start', 'tools', 'admin', 'search', 'knowledge', 'soak'];

const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function run(name: string): Promise<{ ok: boolean; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, path.join(ROOT, 'bench', `${name === 'chat' ? 'chat-platform' : name}.ts`)], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('exit', (code) => resolve({ ok: code === 0, seconds: (performance.now() - started) / 1000 }));
  });
}

const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const chosen = only ? BENCHES.filter((b) => only.includes(b)) : BENCHES;
const failed: string[] = [];
for (const name of chosen) {
  console.log(`\n## bench:${name} (load average before: ${loadAverage()})`);
  const { ok, seconds } = await run(name);
  console.log(`bench_${name}_seconds: ${seconds.toFixed(0)} s`);
  if (!ok) failed.push(name);
}
console.log(`\n${chosen.length - failed.length} benchmarks ran${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exitCode = failed.length ? 1 : 0;
