import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperienceService } from '../../src/core/experiences/service.js';
import { openConfiguredDatabase } from '../../src/core/db/open.js';
import { TestContext } from '../support/db.js';
import { TEST_POSTGRES_URL } from '../support/postgres.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await TestContext.create();
});
afterAll(async () => {
  await ctx.close();
});

describe(ExperienceService.name, () => {
  describe('create and update', () => {
    it('should fill defaults, refuse duplicate slugs and report bad fields by path', async () => {
      const created = await ctx.experiences.create({ name: 'Ceph', slug: 'ceph', category: 'ops', tags: ['storage'] });
      expect(created).toMatchObject({ personaName: 'Threadloom', model: null, fallbackModels: [], contextPolicy: { maxMessages: 20, tokenBudget: null, summarize: true } });
      await expect(ctx.experiences.create({ name: 'Again', slug: 'ceph' })).rejects.toThrow('slug: an Experience with slug "ceph" already exists');
      await expect(ctx.experiences.update('ceph', { model: 'gpt-4o', params: { temperature: 5, maxTokens: null, topP: null } })).rejects.toThrow(
        /model: must look like provider\/model[\s\S]*params\.temperature: /,
      );
      const updated = await ctx.experiences.update('ceph', { model: 'ollama/qwen3', fallbackModels: ['openai/gpt-4o-mini'] });
      expect(updated).toMatchObject({ model: 'ollama/qwen3', fallbackModels: ['openai/gpt-4o-mini'] });
      expect((await ctx.experiences.getById(created.id))!.model).toBe('ollama/qwen3');
    });

    it('should archive out of the list and back', async () => {
      await ctx.experiences.create({ name: 'Old', slug: 'old-stuff', category: 'archive-test' });
      await ctx.experiences.archive('old-stuff');
      expect((await ctx.experiences.list({ category: 'archive-test' })).map((e) => e.slug)).toEqual([]);
      expect((await ctx.experiences.list({ category: 'archive-test', includeArchived: true })).map((e) => e.slug)).toEqual(['old-stuff']);
      await ctx.experiences.unarchive('old-stuff');
      expect((await ctx.experiences.list({ category: 'archive-test' })).map((e) => e.slug)).toEqual(['old-stuff']);
    });
  });

  it.skipIf(!TEST_POSTGRES_URL)("should answer a turn with another instance's edit at once, on PostgreSQL", async () => {
    const created = await ctx.experiences.create({ name: 'Backups', slug: 'backups', systemPrompt: 'Talk about restic.' });
    expect((await ctx.experiences.getById(created.id))?.systemPrompt).toBe('Talk about restic.');
    // the admin web of another instance: its own pool on the same database
    const other = openConfiguredDatabase({ url: ctx.database.url, file: '' });
    try {
      await new ExperienceService(other.db).update('backups', { systemPrompt: 'Talk about borg.' });
      expect((await ctx.experiences.getById(created.id))?.systemPrompt).toBe('Talk about borg.');
    } finally {
      await other.close();
    }
  });

  describe('list', () => {
    it('should filter by category, exact tag and folder', async () => {
      await ctx.experiences.create({ name: 'K8s', slug: 'k8s', category: 'infra', tags: ['ops', 'kubernetes'], folder: 'work/platform' });
      await ctx.experiences.create({ name: 'DevOps', slug: 'devops', category: 'infra', tags: ['devops'], folder: 'work' });
      expect((await ctx.experiences.list({ category: 'infra' })).map((e) => e.slug).sort()).toEqual(['devops', 'k8s']);
      expect((await ctx.experiences.list({ tag: 'ops' })).map((e) => e.slug)).toEqual(['k8s']);
      expect((await ctx.experiences.list({ folder: 'work' })).map((e) => e.slug)).toEqual(['devops']);
    });

    it('should install the built-in templates once, the default among them', async () => {
      const installed = await ctx.experiences.installTemplates();
      expect(installed.length).toBeGreaterThanOrEqual(12);
      expect(installed).toEqual(expect.arrayContaining(['general', 'homelab', 'code-review', 'study', 'writing-partner', 'translator', 'shell']));
      expect(await ctx.experiences.installTemplates()).toEqual([]);
      expect((await ctx.experiences.defaultExperience()).slug).toBe('general');
    });
  });

  describe('export and import', () => {
    it('should round-trip: an export imports unchanged under new slugs', async () => {
      const exported = JSON.parse(await ctx.experiences.exportJson(['homelab', 'shell']));
      for (const e of exported.experiences) e.slug = `${e.slug}-copy`;
      const imported = await ctx.experiences.importJson(JSON.stringify(exported));
      expect(imported.map((e) => e.slug)).toEqual(['homelab-copy', 'shell-copy']);
      const original = (await ctx.experiences.get('homelab'))!;
      expect({ ...imported[0], id: 0, slug: '', createdAt: '', updatedAt: '' }).toEqual({ ...original, id: 0, slug: '', createdAt: '', updatedAt: '' });
    });

    it('should report every problem with its path and import nothing when any item is bad', async () => {
      const before = (await ctx.experiences.list({ includeArchived: true })).length;
      const json = JSON.stringify({
        experiences: [
          { name: 'Fine', slug: 'fine-one' },
          { name: '', slug: 'Bad Slug', contextPolicy: { maxMessages: 0 } },
          { name: 'Typo', slug: 'typo', sytemPrompt: 'x' },
          { name: 'Dup', slug: 'fine-one' },
          { name: 'Taken', slug: 'homelab' },
        ],
      });
      let message = '';
      await ctx.experiences.importJson(json).catch((err: Error) => (message = err.message));
      expect(message).toContain('import rejected, nothing was imported');
      expect(message).toContain('experiences.1.name:');
      expect(message).toContain('experiences.1.slug: use lowercase letters, digits and dashes');
      expect(message).toContain('experiences.1.contextPolicy.maxMessages:');
      expect(message).toContain('experiences.2: unknown key "sytemPrompt"');
      expect(message).toContain('experiences.3.slug: "fine-one" appears twice in this import');
      expect(message).toContain('slug: "homelab" already exists (import with replace to overwrite)');
      expect((await ctx.experiences.list({ includeArchived: true })).length).toBe(before);
      expect(await ctx.experiences.get('fine-one')).toBeNull();
    });

    it('should replace existing Experiences only when asked', async () => {
      const [replaced] = await ctx.experiences.importJson(JSON.stringify({ name: 'Homelab 2', slug: 'homelab' }), { replace: true });
      expect(replaced).toMatchObject({ slug: 'homelab', name: 'Homelab 2' });
      await expect(ctx.experiences.importJson('{not json')).rejects.toThrow(/import: not valid JSON/);
    });
  });
});
