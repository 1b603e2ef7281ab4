import type { ExperienceSpec } from '../experiences/schema.js';

export interface PromptVariables {
  date: string;
  time: string;
  user: string;
  model: string;
  experience: string;
}

export function promptVariables(now: Date, user: string, model: string, experience: string): PromptVariables {
  const iso = now.toISOString();
  return { date: iso.slice(0, 10), time: `${iso.slice(11, 16)} UTC`, user, model, experience };
}

/** Replaces {date}, {time}, {user}, {model}, {experience}; leaves other braces alone. */
export function substitute(text: string, vars: PromptVariables): string {
  return text.replace(/\{(date|time|user|model|experience)\}/g, (_, key: keyof PromptVariables) => vars[key]);
}

/**
 * The system prompt: who the assistant is, the Experience's prompt (or the conversation's
 * persona override), then the response rules. Never dropped from a prompt.
 */
export function renderSystemPrompt(experience: ExperienceSpec, personaOverride: string | null, vars: PromptVariables): string {
  const parts: string[] = [];
  if (personaOverride) {
    parts.push(personaOverride);
  } else {
    parts.push(`You are ${experience.personaName}, the assistant of the "${experience.name}" workspace.`);
    if (experience.systemPrompt.trim()) parts.push(experience.systemPrompt.trim());
  }
  const rules: string[] = [];
  if (experience.rules.language) rules.push(`Always answer in ${experience.rules.language}.`);
  if (experience.rules.maxAnswerChars) rules.push(`Keep every answer under ${experience.rules.maxAnswerChars} characters.`);
  for (const refusal of experience.rules.refuse) rules.push(`Politely refuse requests about: ${refusal}.`);
  if (rules.length) parts.push(`Rules:\n${rules.map((r) => `- ${r}`).join('\n')}`);
  parts.push('Today is {date}, {time}. You are talking with {user}. You run on {model}.');
  return substitute(parts.join('\n\n'), vars);
}
