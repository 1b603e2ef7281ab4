/**
 * Text holding JSON of type T: what the column stores, typed with what it holds. A plain string
 * is accepted on write; `readJson` gives back a T.
 */
export type JsonText<T> = string & { readonly __json?: T };

export function readJson<T>(text: JsonText<T>): T {
  return JSON.parse(text) as T;
}
