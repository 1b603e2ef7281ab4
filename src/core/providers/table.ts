import type { Generated } from 'kysely';

/** The model catalog table of the first migration; nothing reads it yet (the catalog asks the providers). */
export interface ModelTable {
  id: string;
  provider: string;
  name: string;
  context_length: number | null;
  vision: number;
  tools: number;
  input_price: number | null;
  output_price: number | null;
  updated_at: Generated<string>;
}
