/** Errors as the client-server API sends them: an HTTP status and `{ errcode, error, ... }`. */
import type { Json } from './types.js';

export class MatrixApiError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly extra: Json = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): Json {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (message: string): MatrixApiError => new MatrixApiError(403, 'M_FORBIDDEN', message);
export const notFound = (message: string): MatrixApiError => new MatrixApiError(404, 'M_NOT_FOUND', message);
export const badJson = (message: string): MatrixApiError => new MatrixApiError(400, 'M_BAD_JSON', message);
export const unknownToken = (): MatrixApiError => new MatrixApiError(401, 'M_UNKNOWN_TOKEN', 'Invalid access token passed.', { soft_logout: false });
export const missingToken = (): MatrixApiError => new MatrixApiError(401, 'M_MISSING_TOKEN', 'Missing access token.');
