import type { FastifyInstance } from 'fastify';
import { createApiToken, listApiTokens, revokeApiToken } from '../../core/api-tokens.js';
import { audit } from '../audit.js';
import type { AdminContext } from '../context.js';

/** Tokens for the OpenAI-compatible API: made here (shown once), listed, revoked. */
export function registerApiTokenRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const db = ctx.runtime.database.db;
  const page = async (extra: { created?: { name: string; token: string }; error?: string; name?: string } = {}) => ({
    title: 'API tokens',
    tokens: await listApiTokens(db),
    created: extra.created ?? null,
    error: extra.error ?? null,
    name: extra.name ?? '',
  });

  app.get('/tokens', async (_request, reply) => reply.page('tokens', await page()));

  app.post<{ Body: { name?: string } }>('/tokens', async (request, reply) => {
    const name = String(request.body?.name ?? '').trim();
    if (!name || name.length > 100) {
      reply.code(422);
      return reply.page('tokens', await page({ error: 'Give the token a name of 1 to 100 characters, e.g. "open-webui".', name }));
    }
    const { token, id } = await createApiToken(db, name);
    await audit(ctx, request, 'api_token.create', null, `${id}:${name}`);
    return reply.page('tokens', await page({ created: { name, token } }));
  });

  app.post<{ Params: { id: string } }>('/tokens/:id/revoke', async (request, reply) => {
    const id = Number(request.params.id);
    if (Number.isInteger(id) && (await revokeApiToken(db, id, ctx.now()))) await audit(ctx, request, 'api_token.revoke', null, String(id));
    return reply.redirect('/tokens', 303);
  });
}
