/**
 * The media repository: uploads through `/_matrix/media/v3/upload`, downloads only through the
 * authenticated `/_matrix/client/v1/media/...` routes (Matrix 1.11; Synapse freezes the
 * unauthenticated ones for new media).
 */
import { MatrixApiError, notFound } from './errors.js';
import { mediaId } from './ids.js';
import { authed, json, type Answer, type AuthedContext, type Route } from './router.js';

export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

function upload(ctx: AuthedContext): Answer {
  if (ctx.raw.length > MAX_UPLOAD_BYTES) throw new MatrixApiError(413, 'M_TOO_LARGE', 'Uploaded content is too large');
  const mxc = `mxc://${ctx.hs.serverName}/${mediaId()}`;
  const type = ctx.headers['content-type'];
  ctx.hs.media.set(mxc, {
    mxc,
    contentType: typeof type === 'string' ? type : 'application/octet-stream',
    filename: ctx.query.get('filename'),
    data: ctx.raw,
    uploader: ctx.device.userId,
  });
  return json({ content_uri: mxc });
}

function download(ctx: AuthedContext): Answer {
  const item = ctx.hs.media.get(`mxc://${ctx.params.serverName}/${ctx.params.mediaId}`);
  if (!item) throw notFound('Not found');
  const filename = ctx.params.fileName || item.filename;
  const disposition = filename ? { 'content-disposition': `attachment; filename*=utf-8''${encodeURIComponent(filename)}` } : undefined;
  return { data: item.data, contentType: item.contentType, ...(disposition ? { headers: disposition } : {}) };
}

export const mediaRoutes: Route[] = [
  authed('GET', 'client/v1/media/config', () => json({ 'm.upload.size': MAX_UPLOAD_BYTES })),
  authed('GET', 'media/v3/config', () => json({ 'm.upload.size': MAX_UPLOAD_BYTES })),
  authed('POST', 'media/v3/upload', upload, { rawBody: true }),
  authed('GET', 'client/v1/media/download/:serverName/:mediaId/:fileName?', download),
  authed('GET', 'client/v1/media/thumbnail/:serverName/:mediaId', download),
];
