import { experienceInputSchema, type ExperienceInput, type ExperienceSpec } from '../core/experiences/schema.js';

/**
 * The Experience form: its fields as strings (what the browser sends and the template shows), to
 * an Experience input and back, with one message per field for the page to show beside it.
 */

/** Field name → the text in the input. Names are the schema's paths: `params.temperature`. */
export type ExperienceFormValues = Record<string, string>;
/** Field name → what is wrong with it. */
export type FieldErrors = Record<string, string>;

const NUMBER_FIELDS = ['params.temperature', 'params.maxTokens', 'params.topP', 'contextPolicy.maxMessages', 'contextPolicy.tokenBudget', 'rules.maxAnswerChars'] as const;
const TEXT_FIELDS = ['name', 'slug', 'description', 'category', 'folder', 'personaName', 'systemPrompt', 'model', 'rules.language', 'tags', 'fallbackModels', 'starterPrompts'] as const;

function list(text: string, separator: RegExp): string[] {
  return text.split(separator).map((s) => s.trim()).filter(Boolean);
}

/** The form for an existing spec (or a template filled with defaults). */
export function formValues(spec: ExperienceSpec): ExperienceFormValues {
  const num = (n: number | null): string => (n === null ? '' : String(n));
  return {
    name: spec.name,
    slug: spec.slug,
    description: spec.description,
    category: spec.category,
    tags: spec.tags.join(', '),
    folder: spec.folder ?? '',
    personaName: spec.personaName,
    systemPrompt: spec.systemPrompt,
    model: spec.model ?? '',
    fallbackModels: spec.fallbackModels.join('\n'),
    'params.temperature': num(spec.params.temperature),
    'params.maxTokens': num(spec.params.maxTokens),
    'params.topP': num(spec.params.topP),
    'contextPolicy.maxMessages': String(spec.contextPolicy.maxMessages),
    'contextPolicy.tokenBudget': num(spec.contextPolicy.tokenBudget),
    'contextPolicy.summarize': spec.contextPolicy.summarize ? 'on' : '',
    'rules.maxAnswerChars': num(spec.rules.maxAnswerChars),
    'rules.language': spec.rules.language ?? '',
    starterPrompts: spec.starterPrompts.join('\n'),
  };
}

/** Only the known fields, as strings; a missing checkbox is ''. */
export function readForm(body: unknown): ExperienceFormValues {
  const raw = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const values: ExperienceFormValues = {};
  for (const field of [...TEXT_FIELDS, ...NUMBER_FIELDS, 'contextPolicy.summarize']) {
    const value = raw[field];
    // a picker per fallback sends the field once per row
    values[field] = typeof value === 'string' ? value : Array.isArray(value) ? value.filter((v) => typeof v === 'string').join('\n') : '';
  }
  return values;
}

/** The field a schema issue belongs to: `fallbackModels.2` → `fallbackModels`. */
function fieldOf(path: ReadonlyArray<PropertyKey>): string {
  const [first, second] = path.map(String);
  if (first === 'params' || first === 'contextPolicy' || first === 'rules') return second ? `${first}.${second}` : first;
  return first ?? 'form';
}

export interface ParsedForm {
  input: ExperienceInput | null;
  errors: FieldErrors;
}

/**
 * Validates the form. `providers` are the configured provider names: a model on any other
 * provider would only fail later, in the middle of a chat, so it is refused here.
 */
export function parseForm(values: ExperienceFormValues, providers: readonly string[]): ParsedForm {
  const errors: FieldErrors = {};
  const numbers: Record<string, number | null> = {};
  for (const field of NUMBER_FIELDS) {
    const text = values[field]!.trim();
    if (text === '') numbers[field] = null;
    else if (!/^-?\d+(\.\d+)?$/.test(text)) errors[field] = 'must be a number';
    else numbers[field] = Number(text);
  }
  const maxMessages = numbers['contextPolicy.maxMessages'];
  const candidate = {
    name: values.name!.trim(),
    slug: values.slug!.trim(),
    description: values.description!.trim(),
    category: values.category!.trim() || 'general',
    tags: list(values.tags!, /,/),
    folder: values.folder!.trim() || null,
    personaName: values.personaName!.trim() || 'Threadloom',
    systemPrompt: values.systemPrompt!.replace(/\r\n/g, '\n'),
    model: values.model!.trim() || null,
    fallbackModels: list(values.fallbackModels!, /[\n,]/),
    params: { temperature: numbers['params.temperature'] ?? null, maxTokens: numbers['params.maxTokens'] ?? null, topP: numbers['params.topP'] ?? null },
    contextPolicy: {
      ...(maxMessages != null ? { maxMessages } : {}),
      tokenBudget: numbers['contextPolicy.tokenBudget'] ?? null,
      summarize: values['contextPolicy.summarize'] !== '',
    },
    rules: { maxAnswerChars: numbers['rules.maxAnswerChars'] ?? null, language: values['rules.language']!.trim() || null, refuse: [] as string[] },
    starterPrompts: list(values.starterPrompts!, /\n/),
  };
  const parsed = experienceInputSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = fieldOf(issue.path);
      errors[field] ??= issue.message;
    }
  }
  const unknownProvider = (model: string): boolean => !providers.includes(model.slice(0, model.indexOf('/')));
  const configured = providers.length ? providers.join(', ') : 'none';
  if (!errors.model && candidate.model && unknownProvider(candidate.model)) {
    errors.model = `no provider "${candidate.model.slice(0, candidate.model.indexOf('/'))}" is configured (configured: ${configured})`;
  }
  const badFallback = candidate.fallbackModels.find(unknownProvider);
  if (!errors.fallbackModels && badFallback) errors.fallbackModels = `${badFallback}: no such provider is configured (configured: ${configured})`;
  if (Object.keys(errors).length > 0 || !parsed.success) return { input: null, errors };
  return { input: parsed.data, errors };
}

/** A service error such as `slug: an Experience with slug "x" already exists`, put beside its field. */
export function errorsFromMessage(message: string): FieldErrors {
  const errors: FieldErrors = {};
  for (const line of message.split('\n')) {
    const match = /^\s*([A-Za-z.]+\d*): (.+)$/.exec(line);
    if (match) errors[match[1]!.replace(/\.\d+$/, '')] ??= match[2]!;
  }
  return Object.keys(errors).length ? errors : { form: message };
}
