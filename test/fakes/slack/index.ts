/**
 * A fake Slack (Web API, Socket Mode, signed HTTP delivery) that the real `@slack/bolt` App runs
 * against in either transport:
 *
 * ```ts
 * const slack = await startFakeSlack();
 * const clientOptions = { slackApiUrl: slack.apiUrl };
 * // Socket Mode: the SocketModeClient takes its URL from installerOptions.clientOptions only
 * const app = new App({ token: slack.botToken, appToken: slack.appToken, socketMode: true, clientOptions, installerOptions: { clientOptions } });
 * await app.start();                                   // apps.connections.open → ws → hello
 * const ts = slack.userSays({ channel: slack.channelId, text: 'hi', mentionsBot: true });  // app_mention + message
 * await until(() => slack.messages(slack.channelId, ts)[0]);
 * await app.stop(); await slack.close();              // close() waits for the sockets to close
 * // HTTP: new App({ token, signingSecret: slack.signingSecret, clientOptions }); app.start({ port: 0, host: '127.0.0.1' })
 * // then slack.transport = 'http'; slack.httpTarget = 'http://127.0.0.1:PORT/slack/events'
 * ```
 *
 * Web API errors are HTTP 200 `{ ok: false, error }`; `chat.update` is limited per message (token
 * bucket, default burst 3 then 1/s; 429 `ratelimited` + Retry-After). `url_private` file downloads
 * need `Authorization: Bearer <bot token>`. Conversations have kinds and members (`addChannel`, `addIm`):
 * `conversations.info` / `conversations.members` answer `channel_not_found` for a private one
 * the bot is not in, as Slack does; `chat.getPermalink` links to stored messages. Event deliveries run in the background: `idle()`
 * waits for their acks and reports failures; slash commands and clicks resolve with the ack.
 */
import { FakeSlack } from './fake.js';
import type { FakeSlackOptions } from './types.js';

export { FakeSlack } from './fake.js';
export { sign } from './signing.js';
export type { SignedPostOptions } from './signing.js';
export { MAX_SECTION_TEXT, MAX_TEXT } from './limits.js';
export type * from './types.js';

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  return new FakeSlack(options).listen();
}
