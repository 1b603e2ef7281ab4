import type { z } from 'zod';

/** Zod issues as `path.to.field: message` lines, optionally under a prefix path. */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const parts = [prefix, ...issue.path.map(String)].filter((p) => p !== '');
    const where = parts.join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      return `${where ? `${where}: ` : ''}unknown key${issue.keys.length > 1 ? 's' : ''} ${keys} (check the spelling)`;
    }
    return `${where || '(top level)'}: ${issue.message}`;
  });
}
