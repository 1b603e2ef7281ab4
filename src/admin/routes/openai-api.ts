import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { verifyApiToken, type ApiToken } from '../../core/api-tokens.js';
import { configSecrets } from '../../core/config.js';
import { errorMessage } from '../../core/errors.js';
import type { Inbound } from '../../core/inbound.js';
import type { AdminContext } from '../context.js';
import { API_PLATFORM, conversationFor, type ChatTurn } from '../openai/conversation.js';
import { apiErrorFor, errorBody, internalFailure, sendApiError, turnResult, type ApiError } from '../openai/errors.js';
import { ApiReply } from '../openai/reply.js';

/**
 * The OpenAI-compatible API, so Open WebUI or any OpenAI client can talk to an Experience:
 * `GET /v1/models` lists Experiences as `experience/<slug>`; `POST /v1/chat/completions`
 * (streamed or not) runs a turn through the engine — the Experience's persona, model, fallbacks
 * and context policy, the conversation kept, usage recorded, budgets applied. Bearer tokens are
 * made on the admin's API tokens page. Errors come in OpenAI's shape.
 */

const contentSchema = z.union([z.string(), z.array(z.object({ type: z.string(), text: z.string().optional() }).passthrough())]).nullable().optional();
const bodySchema = z.object({
  model: z.string().min(1),
  messages: z.array(z.object({ role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']), content: contentSchema }).passthrough()).min(1),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
}).passthrough();

const textOf = (content: z.infer<typeof contentSchema>): string =>
  typeof content === 'string' ? content : (content ?? []).filter((p) => p.type === 'text').map((p) => p.text ?? '').join('\n');

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

export function registerOpenAIApiRoutes(app: FastifyInstance, ctx: AdminContext): void {
  // a context of its own, so its errors and unknown paths answer in OpenAI's shape, not with the admin's pages
  app.register(async (v1) => registerV1(v1, ctx), { prefix: '/v1' });
}

function registerV1(v1: FastifyInstance, ctx: AdminContext): void {
  const { deps, engine } = ctx.runtime;
  const secrets = configSecrets(ctx.config);
  const fail = (reply: FastifyReply, error: ApiError): FastifyReply => sendApiError(reply, error, secrets);

  v1.setErrorHandler(async (error: FastifyError, request, reply) => {
    const answer = apiErrorFor(error, v1.initialConfig.bodyLimit ?? 1024 * 1024);
    if (answer.status >= 500) ctx.log.error('api: request failed', { method: request.method, url: request.url.split('?')[0], error: error.message });
    if (reply.sent || reply.raw.headersSent) return reply;
    return fail(reply, answer);
  });
  v1.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/*',
    config: { public: true },
    handler: async (request, reply) => fail(reply, { status: 404, message: `Unknown API path ${request.method} ${request.url.split('?')[0]}: this server has GET /v1/models and POST /v1/chat/completions.`, type: 'invalid_request_error', code: 'unknown_url' }),
  });

  async function authorize(request: FastifyRequest, reply: FastifyReply): Promise<ApiToken | null> {
    const bearer = BEARER.exec(request.headers.authorization ?? '')?.[1];
    const token = bearer ? await verifyApiToken(deps.db, bearer, ctx.now()) : null;
    if (!token) fail(reply, { status: 401, message: 'Incorrect or revoked API key. Create one on the admin web\'s API tokens page.', type: 'invalid_request_error', code: 'invalid_api_key' });
    return token;
  }

  async function experienceOf(model: string) {
    const slug = model.startsWith('experience/') ? model.slice('experience/'.length) : model;
    const experience = await deps.experiences.get(slug);
    return experience && !experience.archivedAt ? experience : null;
  }

  v1.get('/models', { config: { public: true } }, async (request, reply) => {
    if (!(await authorize(request, reply))) return reply;
    const experiences = await deps.experiences.list();
    return {
      object: 'list',
      data: experiences.map((e) => ({ id: `experience/${e.slug}`, object: 'model', created: Math.floor(Date.parse(e.createdAt) / 1000), owned_by: 'threadloom' })),
    };
  });

  v1.post('/chat/completions', { config: { public: true } }, async (request, reply) => {
    const token = await authorize(request, reply);
    if (!token) return reply;
    const parsed = bodySchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return fail(reply, { status: 400, message: `${issue.path.join('.') || 'body'}: ${issue.message}`, type: 'invalid_request_error', code: null, param: issue.path.join('.') || null });
    }
    const body = parsed.data;
    // the Experience's own tools run here, on the server; calls are never handed to the client
    const clientTools = (request.body as Record<string, unknown>).tools;
    if (Array.isArray(clientTools) && clientTools.length > 0) {
      return fail(reply, { status: 400, message: "tools: Threadloom does not return tool calls to API clients; the Experience's own tools (those set to auto) run on the server. Send the request without tools.", type: 'invalid_request_error', code: 'unsupported_parameter', param: 'tools' });
    }
    const experience = await experienceOf(body.model);
    if (!experience) return fail(reply, { status: 404, message: `The model '${body.model}' does not exist: models are experience/<slug> (GET /v1/models)`, type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    const turns: ChatTurn[] = body.messages
      .filter((m) => m.role === 'user' || m.role === 'assistant')
      .map((m) => ({ role: m.role as ChatTurn['role'], content: textOf(m.content) }));
    const last = turns.at(-1);
    if (!last || last.role !== 'user' || !last.content.trim()) return fail(reply, { status: 400, message: 'messages: the last message must be a user message with text', type: 'invalid_request_error', code: null, param: 'messages' });
    const firstUser = turns.find((t) => t.role === 'user')!.content;
    const conversation = await conversationFor(deps, token.id, experience, turns.slice(0, -1), firstUser);

    const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(ctx.now().getTime() / 1000);
    const model = `experience/${experience.slug}`;
    const inbound: Inbound = {
      platform: API_PLATFORM,
      eventId: id,
      channelId: conversation.channel_id,
      threadId: conversation.thread_id,
      messageId: id,
      author: { id: `token:${token.id}`, name: token.name, isBot: false },
      text: last.content,
      attachments: [],
      replyTo: null,
      mentionsBot: true,
      isDirect: true,
      kind: 'message',
    };
    const before = (await deps.db.selectFrom('messages').select((eb) => eb.fn.max('id').as('max')).executeTakeFirst())?.max ?? 0;
    const outcome = async () => {
      const answer = await deps.db
        .selectFrom('messages')
        .selectAll()
        .where('conversation_id', '=', conversation.id)
        .where('role', '=', 'assistant')
        .where('id', '>', Number(before))
        .orderBy('id', 'desc')
        .executeTakeFirst();
      return answer ?? null;
    };
    const usageOf = (answer: { tokens_in: number | null; tokens_out: number | null }) => ({
      prompt_tokens: answer.tokens_in ?? 0,
      completion_tokens: answer.tokens_out ?? 0,
      total_tokens: (answer.tokens_in ?? 0) + (answer.tokens_out ?? 0),
    });

    // the response ends when the answer is written: naming a new conversation, which follows in
    // the same turn, is no reason to keep the client waiting for a second model call
    const answerInto = async (apiReply: ApiReply): Promise<void> => {
      let answered = false;
      const handled = engine.handle(inbound, apiReply);
      handled.catch((err) => {
        if (answered) ctx.log.error('api: the turn failed after its answer was sent', { error: errorMessage(err) });
      });
      await Promise.race([handled, apiReply.whenAnswered]);
      answered = true;
    };

    if (!body.stream) {
      const apiReply = new ApiReply();
      await answerInto(apiReply);
      const result = turnResult(await outcome(), apiReply);
      if ('error' in result) return fail(reply, result.error);
      const { answer } = result;
      return {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: apiReply.text }, finish_reason: answer.status === 'complete' ? 'stop' : 'length' }],
        usage: usageOf(answer),
      };
    }

    // streamed: server-sent events, one chat.completion.chunk per new piece of text
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (data: unknown): void => void raw.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] });
    let finished = false;
    raw.on('close', () => {
      // the response closed before the answer ended: the client went away, stop writing for nobody
      if (!finished) engine.turns.stop(conversation.id);
    });
    send(chunk({ role: 'assistant', content: '' }));
    const apiReply = new ApiReply((delta) => send(chunk({ content: delta })));
    try {
      await answerInto(apiReply);
      finished = true;
      const result = turnResult(await outcome(), apiReply);
      if ('error' in result) {
        send(errorBody(result.error, secrets));
      } else {
        send(chunk({}, result.answer.status === 'complete' ? 'stop' : 'length'));
        if (body.stream_options?.include_usage) send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageOf(result.answer) });
      }
    } catch (err) {
      // the status line is sent: the failure goes to the client as the stream's last event
      finished = true;
      ctx.log.error('api: streamed completion failed', { error: errorMessage(err) });
      send(errorBody(internalFailure, secrets));
    }
    raw.end('data: [DONE]\n\n');
    return reply;
  });
}
