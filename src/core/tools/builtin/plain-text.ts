/**
 * Text from stored messages goes back to the model, which may quote it into a channel: a
 * quoted `@everyone`, `<@123>` or `<!here>` must not ping anyone. A zero-width space after the
 * sigil keeps the words readable and stops every platform from treating them as a mention.
 */
const ZWSP = '\u200b';

export function withoutMentions(text: string): string {
  return text
    // Discord <@id>, <@!id>, <@&role>, <#channel>; Slack <@U123>, <!here>, <!subteam^S1>
    .replace(/<([@#!])([^<>\s]*)>/g, (_m, sigil: string, rest: string) => `${sigil}${ZWSP}${rest}`)
    // @everyone, @here, @channel, @room, Matrix @user:server, plain @name (not inside an e-mail address)
    .replace(/(^|[^\p{L}\p{N}_.+-])@(?=[\p{L}\p{N}_])/gu, `$1@${ZWSP}`);
}

/** One line: no line breaks a list could be broken by, runs of spaces folded. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
