import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The house plan, checked: arrows point inward (core imports no bots or admin, bots no database),
 * and no import cycle, types included. The rules live in .dependency-cruiser.cjs; this runs the
 * same command as `npm run check:imports`.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
  cycle?: Array<{ name: string }>;
}

describe('the import graph', () => {
  it('should keep every house rule: no cycles, core platform-neutral, bots without the database, migrations frozen', async () => {
    // depcruise exits non-zero when a rule is broken; its JSON says which
    const { stdout } = await promisify(execFile)(DEPCRUISE, ['src', 'migrations', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
    );
    const result = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
    const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`);
    expect(violations).toEqual([]);
    // the graph was really read: a parser that reads nothing passes every rule
    expect(result.summary.totalCruised).toBeGreaterThan(150);
  }, 60_000);
});

describe('the chat adapters', () => {
  it('should only translate: no file under src/bots/ reaches into the engine (its deps, turns or directories)', () => {
    const bots = path.join(ROOT, 'src', 'bots');
    const files = readdirSync(bots, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const reaches = files.flatMap((file) =>
      readFileSync(path.join(bots, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\.deps\b|engine\.turns|engine\.directories/.test(line) ? [`src/bots/${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(reaches).toEqual([]);
    // the folder was really read
    expect(files.length).toBeGreaterThan(20);
  });
});
