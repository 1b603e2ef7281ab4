/**
 * Token estimates, used until a provider reports exact counts (answers store their exact output
 * token count and that is used instead). The estimate errs high on purpose: a prompt that is
 * estimated too large loses one old message; one estimated too small is rejected by the model.
 *
 * - ASCII text: one token per 4 characters (English prose averages ~4.2 with GPT and Llama
 *   tokenizers; code is denser, which is why this rounds up per message).
 * - Any other code point (accents, CJK, emoji): one token each; CJK is ~1 token per character
 *   and emoji are often 2–3, accented letters inside words far fewer, so it balances out high.
 * - Each message costs 4 tokens of chat framing; each image 765 (a 1024×1024 image at OpenAI's
 *   high detail; Anthropic and Llama vision models are in the same range).
 */
export const MESSAGE_OVERHEAD_TOKENS = 4;
export const IMAGE_TOKENS = 765;

export function estimateTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) ascii++;
    else if (code < 0xdc00 || code > 0xdfff) other++; // count a surrogate pair once
  }
  return Math.ceil(ascii / 4) + other;
}

export function estimateMessageTokens(text: string, images: number): number {
  return estimateTokens(text) + MESSAGE_OVERHEAD_TOKENS + images * IMAGE_TOKENS;
}
