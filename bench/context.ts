/**
 * Prompt assembly for a turn at a deep leaf of a big conversation: 10,000 messages in 200
 * branches, in a real SQLite file. Prints the median and p99 over 500 runs, and the same for
 * reading the whole root-to-leaf path as a baseline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildContext } from '../src/core/context/builder.js';
import { promptVariables } from '../src/core/context/prompt.js';
import { pathToLeaf } from '../src/core/conversations/repository.js';
import { migrateToLatest } from '../src/core/db/migrate.js';
import { openDatabase } from '../src/core/db/open.js';
import { ExperienceService } from '../src/core/experiences/service.js';
import { figure, summarise } from './stats.js';

const MESSAGES = 10_000;
const BRANCHES = 200;
const RUNS = 500;

const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-'));
const database = openDatabase(path.join(dir, 'bench.db'));
await migrateToLatest(database.db);
const experience = await new ExperienceService(database.db).defaultExperience();
const conversation = await database.db
  .insertInto('conversations')
  .values({ platform: 'bench', channel_id: 'c', experience_id: experience.id, title: null, active_leaf_id: null, model_override: null, persona_override: null, created_by: null, archived_at: null })
  .returning('id')
  .executeTakeFirstOrThrow();

// Build the tree with plain prepared statements (setup, not measured): a trunk, then 199
// branches each forking from a random node of the tree so far, 50 messages per branch.
let seed = 42;
const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const insert = database.sqlite.prepare(
  "INSERT INTO messages (conversation_id, parent_id, role, author_id, author_name, content, token_count) VALUES (?, ?, ?, 'u1', 'Ada', ?, ?)",
);
const ids: number[] = [];
const depth = new Map<number, number>();
let deepest = { id: 0, depth: 0 };
database.sqlite.transaction(() => {
  const perBranch = MESSAGES / BRANCHES;
  for (let branch = 0; branch < BRANCHES; branch++) {
    let parent: number | null = branch === 0 ? null : ids[Math.floor(random() * ids.length)]!;
    for (let i = 0; i < perBranch; i++) {
      const role = i % 2 === 0 ? 'user' : 'assistant';
      const content = `${role} message ${branch}.${i}: ${'lorem ipsum dolor sit amet '.repeat(4 + Math.floor(random() * 8))}`;
      const id = Number(insert.run(conversation.id, parent, role, content, Math.ceil(content.length / 4) + 4).lastInsertRowid);
      const d = (parent === null ? 0 : depth.get(parent)!) + 1;
      depth.set(id, d);
      if (d > deepest.depth) deepest = { id, depth: d };
      ids.push(id);
      parent = id;
    }
  }
})();
database.sqlite.prepare('UPDATE conversations SET active_leaf_id = ? WHERE id = ?').run(deepest.id, conversation.id);
database.sqlite.pragma('optimize');

const request = {
  experience,
  personaOverride: null,
  variables: promptVariables(new Date(), 'Ada', 'ollama/llama3.2', experience.name),
  leafId: deepest.id,
  model: { contextLength: 8192, vision: false },
  reservedAnswerTokens: 1024,
};

async function time(run: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 20; i++) await run(); // warm caches and the JIT
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  return samples;
}

const built = await buildContext(database.db, request);
const context = summarise(await time(() => buildContext(database.db, request)));
const fullPath = summarise(await time(() => pathToLeaf(database.db, deepest.id)));

figure('messages', MESSAGES, 'messages', 0);
figure('branches', BRANCHES, 'branches', 0);
figure('leaf_depth', deepest.depth, 'messages', 0);
figure('prompt_messages', built.messages.length, 'messages', 0);
figure('context_build_median', context.median, 'ms');
figure('context_build_p99', context.p99, 'ms');
figure('full_path_read_median', fullPath.median, 'ms');
figure('full_path_read_p99', fullPath.p99, 'ms');
figure('context_vs_full_path_ratio', context.median / fullPath.median, 'x');

await database.close();
rmSync(dir, { recursive: true, force: true });
