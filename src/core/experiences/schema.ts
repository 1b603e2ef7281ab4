import { z } from 'zod';
import { toolPolicySchema } from '../tools/policy.js';

/** `provider/model`, e.g. `ollama/llama3.2` or `lmstudio/qwen3-8b`. */
export const modelIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*\/\S+$/i, 'must look like provider/model, e.g. ollama/llama3.2');

export const slugSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'use lowercase letters, digits and dashes');

export const generationParamsSchema = z.strictObject({
  temperature: z.number().min(0).max(2).nullable().default(null),
  maxTokens: z.number().int().positive().nullable().default(null),
  topP: z.number().gt(0).max(1).nullable().default(null),
});

export const DEFAULT_MAX_MESSAGES = 20;

export const contextPolicySchema = z.strictObject({
  maxMessages: z.number().int().min(1).max(1000).default(DEFAULT_MAX_MESSAGES),
  /** tokens for the prompt; null = the model's context length minus the reserved answer tokens */
  tokenBudget: z.number().int().min(256).nullable().default(null),
  summarize: z.boolean().default(true),
});

export const knowledgePolicySchema = z.strictObject({
  /** tokens of the prompt the retrieved sources may take */
  maxTokens: z.number().int().min(100).max(32_000).default(1_500),
  /** sources placed in the prompt at most */
  maxSources: z.number().int().min(1).max(20).default(6),
  /** who may add documents from the chat with `knowledge add` (admins always may) */
  chatAdd: z.enum(['admins', 'everyone']).default('admins'),
});

export const responseRulesSchema = z.strictObject({
  maxAnswerChars: z.number().int().positive().nullable().default(null),
  language: z.string().min(1).nullable().default(null),
  refuse: z.array(z.string().min(1)).default([]),
});

/** Everything that defines an Experience; also the JSON import/export format. */
export const experienceInputSchema = z.strictObject({
  name: z.string().min(1).max(100),
  slug: slugSchema,
  description: z.string().max(1000).default(''),
  category: z.string().max(64).default('general'),
  tags: z.array(z.string().min(1).max(32)).default([]),
  folder: z.string().max(200).nullable().default(null),
  personaName: z.string().min(1).max(64).default('Threadloom'),
  systemPrompt: z.string().max(20000).default(''),
  /** null = the global default model */
  model: modelIdSchema.nullable().default(null),
  fallbackModels: z.array(modelIdSchema).default([]),
  params: generationParamsSchema.default({ temperature: null, maxTokens: null, topP: null }),
  contextPolicy: contextPolicySchema.default({ maxMessages: DEFAULT_MAX_MESSAGES, tokenBudget: null, summarize: true }),
  rules: responseRulesSchema.default({ maxAnswerChars: null, language: null, refuse: [] }),
  /** suggested first prompts, offered by platforms that show them */
  starterPrompts: z.array(z.string().min(1).max(200)).max(10).default([]),
  /** which tools the model may call, and which ask a person first; none by default */
  tools: toolPolicySchema.prefault({}),
  /** how answers use the Experience's documents, when it has any */
  knowledge: knowledgePolicySchema.prefault({}),
});

export type ExperienceInput = z.input<typeof experienceInputSchema>;
export type ExperienceSpec = z.output<typeof experienceInputSchema>;
export type GenerationSettings = ExperienceSpec['params'];
export type ContextPolicy = ExperienceSpec['contextPolicy'];
export type ResponseRules = ExperienceSpec['rules'];
export type KnowledgePolicy = ExperienceSpec['knowledge'];
export type { ToolPolicy } from '../tools/policy.js';
