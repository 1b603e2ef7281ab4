import { describe, expect, it } from 'vitest';
import { experienceInputSchema } from './schema.js';
import { BUILT_IN_TEMPLATES } from './templates.js';

const REQUIRED = ['general', 'homelab', 'code-review', 'study', 'writing-partner', 'translator', 'shell'];
const VARIABLES = ['date', 'time', 'user', 'model', 'experience'];

describe('BUILT_IN_TEMPLATES', () => {
  const specs = BUILT_IN_TEMPLATES.map((template) => experienceInputSchema.parse(template));

  it('should offer at least twelve templates, each a valid Experience', () => {
    expect(BUILT_IN_TEMPLATES.length).toBeGreaterThanOrEqual(12);
    for (const template of BUILT_IN_TEMPLATES) {
      expect(experienceInputSchema.safeParse(template).error, template.slug).toBeUndefined();
    }
  });

  it('should give every template its own slug and name', () => {
    expect(new Set(specs.map((spec) => spec.slug)).size).toBe(specs.length);
    expect(new Set(specs.map((spec) => spec.name)).size).toBe(specs.length);
  });

  it('should include the templates the product relies on', () => {
    expect(specs.map((spec) => spec.slug)).toEqual(expect.arrayContaining(REQUIRED));
  });

  it('should give every template a substantial prompt, a description and starter prompts', () => {
    for (const spec of specs) {
      expect(spec.systemPrompt.length, spec.slug).toBeGreaterThan(200);
      expect(spec.description, spec.slug).not.toBe('');
      expect(spec.starterPrompts.length, spec.slug).toBeGreaterThanOrEqual(2);
      expect(spec.tags.length, spec.slug).toBeGreaterThan(0);
    }
  });

  it('should leave the model to the global default', () => {
    for (const spec of specs) expect([spec.slug, spec.model, spec.fallbackModels]).toEqual([spec.slug, null, []]);
  });

  it('should use only the variables the context builder substitutes', () => {
    for (const spec of specs) {
      const used = [...spec.systemPrompt.matchAll(/\{([a-z]+)\}/g)].map((match) => match[1]);
      expect(used.filter((name) => !VARIABLES.includes(name ?? '')), spec.slug).toEqual([]);
    }
  });

  it('should keep the translator free of a fixed answer language', () => {
    expect(specs.find((spec) => spec.slug === 'translator')?.rules.language).toBeNull();
  });

  it('should warn before destructive commands in the homelab template', () => {
    const homelab = specs.find((spec) => spec.slug === 'homelab');
    expect(homelab?.systemPrompt).toMatch(/destructive/);
    expect(homelab?.systemPrompt).toContain('⚠️');
  });
});
