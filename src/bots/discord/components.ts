import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';
import { isActionName, type ActionName, type ReplyButton } from '../../core/inbound.js';

const PREFIX = 'tl:';
const STYLES: Partial<Record<ActionName, ButtonStyle>> = { stop: ButtonStyle.Danger, approve: ButtonStyle.Success, deny: ButtonStyle.Danger };

/** Buttons under an answer; the custom id carries only the action, the message says which answer. */
export function buttonRows(buttons: ReplyButton[] | undefined): ActionRowBuilder<ButtonBuilder>[] {
  if (!buttons?.length) return [];
  const row = new ActionRowBuilder<ButtonBuilder>();
  for (const button of buttons.slice(0, 5)) {
    row.addComponents(
      new ButtonBuilder()
        .setCustomId(`${PREFIX}${button.action}`)
        .setLabel(button.label)
        .setStyle(STYLES[button.action] ?? ButtonStyle.Secondary),
    );
  }
  return [row];
}

export function actionFromCustomId(customId: string): ActionName | null {
  if (!customId.startsWith(PREFIX)) return null;
  const action = customId.slice(PREFIX.length);
  return isActionName(action) ? action : null;
}
