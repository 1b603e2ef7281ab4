import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';
import type { ActionName, ReplyButton } from '../../core/inbound.js';

const PREFIX = 'tl:';

/** Buttons under an answer; the custom id carries only the action, the message says which answer. */
export function buttonRows(buttons: ReplyButton[] | undefined): ActionRowBuilder<ButtonBuilder>[] {
  if (!buttons?.length) return [];
  const row = new ActionRowBuilder<ButtonBuilder>();
  for (const button of buttons.slice(0, 5)) {
    row.addComponents(
      new ButtonBuilder()
        .setCustomId(`${PREFIX}${button.action}`)
        .setLabel(button.label)
        .setStyle(button.action === 'stop' ? ButtonStyle.Danger : ButtonStyle.Secondary),
    );
  }
  return [row];
}

export function actionFromCustomId(customId: string): ActionName | null {
  if (!customId.startsWith(PREFIX)) return null;
  const action = customId.slice(PREFIX.length);
  return action === 'regen' || action === 'prev' || action === 'next' || action === 'stop' ? action : null;
}
