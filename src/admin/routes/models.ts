import { formatBytes } from '../../core/format/figures.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { estimateTokens } from '../../core/context/tokens.js';
import { errorMessage, ThreadloomError } from '../../core/errors.js';
import { ollamaServers, PullJobs, type OllamaModels, type PullJob } from '../../core/providers/ollama-models.js';
import { modelDefaults, setModelDefaults } from '../../core/settings.js';
import { promptTokenEstimate, recordUsage, usageRow } from '../../core/usage/ledger.js';
import { audit } from '../audit.js';
import { modelList, providerProblem } from '../model-ids.js';
import type { AdminContext } from '../context.js';
import { startSse, type SseStream } from '../sse.js';

/**
 * The Models page: every configured provider's models with context length and price; for each
 * Ollama server what is installed and loaded, pull (live progress over server-sent events),
 * delete (after a confirmation), load and unload, details; the global default and fallbacks; and
 * a "try it" box that streams an answer with its time to first token and speed.
 */

/** no more progress events than this (a pull reports every few kilobytes) */
const EVENT_INTERVAL_MS = 100;
const TRY_MAX_PROMPT = 4000;

type Body = Record<string, unknown>;

function field(body: unknown, name: string): string {
  const value = (body as Body | undefined)?.[name];
  return typeof value === 'string' ? value.trim() : '';
}


function formatPrice(price: { input: number; output: number } | null): string {
  if (!price) return 'unknown';
  if (price.input === 0 && price.output === 0) return 'free';
  return `$${price.input} in / $${price.output} out per 1M tokens`;
}

function pullView(job: PullJob): Record<string, unknown> {
  const percent = job.progress?.percent ?? null;
  return {
    provider: job.provider,
    model: job.model,
    status: job.error ? 'error' : (job.progress?.status ?? 'starting'),
    percent: percent === null ? null : Math.floor(percent),
    bytes: job.progress && job.progress.total > 0 ? `${formatBytes(job.progress.completed)} of ${formatBytes(job.progress.total)}` : null,
    error: job.error,
    finished: job.finished,
    succeeded: job.finished && !job.error && job.progress?.done === true,
  };
}

export function registerModelsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const servers = ollamaServers(ctx.config.providers);
  const pulls = new PullJobs();
  app.addHook('onClose', () => pulls.stopAll());
  const { router, catalog, prices, db } = { ...ctx.runtime.deps, db: ctx.runtime.database.db };

  function serverFor(request: FastifyRequest<{ Params: { provider: string } }>): OllamaModels {
    const server = servers.get(request.params.provider);
    if (!server) throw new ThreadloomError('not_found', `no Ollama provider named ${request.params.provider}`, { userMessage: `There is no Ollama provider called ${request.params.provider}.` });
    return server;
  }

  function modelFrom(body: unknown): string {
    const model = field(body, 'model');
    if (!/^[\w.:/@-]{1,200}$/.test(model)) throw new ThreadloomError('invalid', 'model: give a model name such as llama3.2 or qwen2.5:7b');
    return model;
  }

  /** What is installed and loaded on one Ollama server, for its panel. */
  async function panel(server: OllamaModels, message: string | null = null): Promise<Record<string, unknown>> {
    const [installed, loaded] = await Promise.allSettled([server.list(AbortSignal.timeout(5000)), server.running(AbortSignal.timeout(5000))]);
    const running = loaded.status === 'fulfilled' ? loaded.value : [];
    return {
      provider: server.provider,
      message,
      error: installed.status === 'rejected' ? errorMessage(installed.reason) : loaded.status === 'rejected' ? errorMessage(loaded.reason) : null,
      installed: (installed.status === 'fulfilled' ? installed.value : []).map((m) => ({
        name: m.name,
        size: formatBytes(m.size),
        family: m.family ?? '',
        parameterSize: m.parameterSize ?? '',
        quantization: m.quantization ?? '',
        loaded: running.some((r) => r.name === m.name),
      })),
      loaded: running.map((r) => ({
        name: r.name,
        size: formatBytes(r.size),
        vram: formatBytes(r.sizeVram),
        onGpu: r.size > 0 ? Math.round((r.sizeVram / r.size) * 100) : 0,
        expiresAt: r.expiresAt ? r.expiresAt.toISOString() : null,
        contextLength: r.contextLength,
      })),
    };
  }

  async function sendPanel(reply: FastifyReply, server: OllamaModels, message: string | null = null): Promise<FastifyReply> {
    return reply.partial('models-ollama', await panel(server, message));
  }

  /** Streams a pull's progress as rendered partials, throttled, then a `done` event. */
  /** each pull's audit entry, written when it ends: a page hears 'done' only once it is there */
  const pullAudits = new WeakMap<PullJob, Promise<unknown>>();

  function followPull(reply: FastifyReply, job: PullJob): void {
    const stream: SseStream = startSse(reply, { onError: (err) => ctx.log.error('admin: rendering a progress event failed', { error: errorMessage(err) }) });
    let last = 0;
    let timer: NodeJS.Timeout | undefined;
    const render = (): void => {
      timer = undefined;
      last = Date.now();
      void stream.send(app.view('partials/models-pull', pullView(job)));
      if (job.finished) {
        void (pullAudits.get(job) ?? Promise.resolve()).then(async () => {
          await stream.send(job.error ? 'error' : 'success', { event: 'done' });
          await stream.close();
        });
      }
    };
    const onProgress = (): void => {
      if (stream.closed) return;
      if (job.finished) {
        clearTimeout(timer);
        return render();
      }
      timer ??= setTimeout(render, Math.max(0, EVENT_INTERVAL_MS - (Date.now() - last)));
    };
    const unsubscribe = job.subscribe(onProgress);
    stream.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      unsubscribe();
    });
    if (job.finished) render();
    else onProgress();
  }

  app.get('/models', async (_request, reply) => {
    const defaults = await modelDefaults(db, ctx.config);
    return reply.page('models', {
      title: 'Models',
      defaults: { ...defaults, fallbacksText: defaults.fallbacks.join('\n'), configDefault: ctx.config.defaultModel },
      modelIds: await catalog.knownIds(),
      ollama: [...servers.keys()],
      pulls: pulls.list().filter((job) => !job.finished).map(pullView),
      providers: router.providerNames,
    });
  });

  app.get('/models/catalog', async (_request, reply) => {
    const { models, unreachable } = await catalog.list();
    const defaults = await modelDefaults(db, ctx.config);
    return reply.partial('models-catalog', {
      models: models.map((m) => ({
        id: m.id,
        provider: m.provider,
        contextLength: m.contextLength === null ? 'unknown' : m.contextLength.toLocaleString('en'),
        vision: m.vision,
        tools: m.tools,
        price: formatPrice(prices.priceOf(m.id)),
        isDefault: m.id === defaults.defaultModel,
        fallbackRank: defaults.fallbacks.indexOf(m.id) + 1,
      })),
      unreachable,
    });
  });

  app.post('/models/defaults', async (request, reply) => {
    const defaultModel = field(request.body, 'defaultModel');
    const fallbacks = modelList((request.body as Body | undefined)?.fallbacks);
    for (const id of [defaultModel, ...fallbacks]) {
      const problem = providerProblem(id, router.providerNames);
      if (problem) throw new ThreadloomError('invalid', problem);
    }
    const saved = await setModelDefaults(db, { defaultModel, fallbacks });
    await audit(ctx, request, 'models.default', `default ${saved.defaultModel}; fallbacks ${saved.fallbacks.join(', ') || 'none'}`, saved.defaultModel);
    return reply.partial('models-defaults', {
      defaults: { ...saved, fallbacksText: saved.fallbacks.join('\n'), configDefault: ctx.config.defaultModel },
      modelIds: await catalog.knownIds(),
      message: 'Saved.',
    });
  });

  app.get<{ Params: { provider: string } }>('/models/ollama/:provider/panel', async (request, reply) => sendPanel(reply, serverFor(request)));

  app.get<{ Params: { provider: string }; Querystring: { model?: string } }>('/models/ollama/:provider/show', async (request, reply) => {
    const server = serverFor(request);
    const details = await server.show(modelFrom(request.query), AbortSignal.timeout(5000));
    return reply.partial('models-details', { provider: server.provider, details: { ...details, contextLength: details.contextLength?.toLocaleString('en') ?? 'unknown' } });
  });

  // load warms a model (keep_alive 30m); unload frees its memory now (keep_alive 0)
  for (const action of ['load', 'unload'] as const) {
    app.post<{ Params: { provider: string } }>(`/models/ollama/:provider/${action}`, async (request, reply) => {
      const server = serverFor(request);
      const model = modelFrom(request.body);
      await server[action](model);
      await audit(ctx, request, `model.${action}`, null, `${server.provider}/${model}`);
      return sendPanel(reply, server, `${model} is ${action}ed.`);
    });
  }

  // two steps: without `confirm` equal to the model's name, only the question comes back
  app.post<{ Params: { provider: string } }>('/models/ollama/:provider/delete', async (request, reply) => {
    const server = serverFor(request);
    const model = modelFrom(request.body);
    if (field(request.body, 'confirm') !== model) {
      return reply.partial('models-confirm-delete', { provider: server.provider, model });
    }
    await server.delete(model);
    await audit(ctx, request, 'model.delete', null, `${server.provider}/${model}`);
    return sendPanel(reply, server, `${model} is deleted.`);
  });

  app.post<{ Params: { provider: string } }>('/models/ollama/:provider/pull', async (request, reply) => {
    const server = serverFor(request);
    const model = modelFrom(request.body);
    const running = pulls.get(server.provider, model);
    const job = pulls.start(server, model);
    if (job !== running) {
      pullAudits.set(
        job,
        job.done.then(() =>
          audit(ctx, request, 'model.pull', job.error ? `failed: ${job.error}` : 'ok', `${server.provider}/${model}`).catch((err: unknown) =>
            ctx.log.error('admin: could not write the audit entry for a pull', { error: errorMessage(err) }),
          ),
        ),
      );
    }
    followPull(reply, job);
    return reply;
  });

  // follow a pull started earlier (the page was reloaded while it ran)
  app.get<{ Params: { provider: string }; Querystring: { model?: string } }>('/models/ollama/:provider/pull', async (request, reply) => {
    const server = serverFor(request);
    const job = pulls.get(server.provider, modelFrom(request.query));
    if (!job) throw new ThreadloomError('not_found', 'no such pull', { userMessage: 'That pull is not running.' });
    followPull(reply, job);
    return reply;
  });

  app.post('/models/try', async (request, reply) => {
    const modelId = field(request.body, 'model');
    const prompt = field(request.body, 'prompt');
    if (!/^[a-z0-9][a-z0-9_-]*\/\S+$/i.test(modelId)) throw new ThreadloomError('invalid', 'model: pick a model such as ollama/llama3.2');
    if (!prompt || prompt.length > TRY_MAX_PROMPT) throw new ThreadloomError('invalid', `prompt: write something, up to ${TRY_MAX_PROMPT} characters`);
    const stream = startSse(reply, { onError: (err) => ctx.log.error('admin: rendering a progress event failed', { error: errorMessage(err) }) });
    const messages = [{ role: 'user' as const, content: prompt }];
    const started = performance.now();
    let text = '';
    let ttftMs: number | null = null;
    let last = 0;
    let timer: NodeJS.Timeout | undefined;
    // written before the stream ends, so the Usage page shows the call once the answer is there
    // (on PostgreSQL a write left running lost that race)
    const recorded: Array<Promise<unknown>> = [];
    const send = (data: Record<string, unknown>): void => {
      last = Date.now();
      void stream.send(app.view('partials/models-try', { model: modelId, text, ...data }));
    };
    const outcome = await router.stream({
      candidates: [modelId],
      messages,
      params: {},
      signal: stream.signal,
      onText: (delta) => {
        if (ttftMs === null) ttftMs = Math.round(performance.now() - started);
        text += delta;
        timer ??= setTimeout(() => {
          timer = undefined;
          send({ streaming: true, ttftMs });
        }, Math.max(0, EVENT_INTERVAL_MS - (Date.now() - last)));
      },
      onCall: (call) => {
        const row = usageRow(call, { platform: 'admin', userId: 'admin', experienceId: null, conversationId: null, messageId: null, purpose: 'chat' }, prices, promptTokenEstimate(messages));
        recorded.push(recordUsage(db, [row]).catch((err: unknown) => ctx.log.error('admin: could not record try-it usage', { error: errorMessage(err) })));
      },
    });
    clearTimeout(timer);
    await Promise.all(recorded);
    if (stream.closed) return reply;
    const outputTokens = outcome.usage?.outputTokens ?? estimateTokens(outcome.text);
    const generatingMs = outcome.ttftMs === null ? outcome.latencyMs : Math.max(1, outcome.latencyMs - outcome.ttftMs);
    send({
      streaming: false,
      text: outcome.text,
      status: outcome.status,
      error: outcome.error ? outcome.error.userMessage : null,
      ttftMs: outcome.ttftMs,
      latencyMs: outcome.latencyMs,
      outputTokens,
      tokensEstimated: outcome.usage === null,
      tokensPerSecond: outcome.text ? (outputTokens / (generatingMs / 1000)).toFixed(1) : null,
    });
    void stream.send(outcome.status, { event: 'done' });
    await stream.close();
    return reply;
  });
}
