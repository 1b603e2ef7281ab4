import { z } from 'zod';
import { isAllowEntry } from './address-policy.js';

/** How long a fetch may take, in all, redirects included. */
export const FETCH_TIMEOUT_MS = 15_000;
/** How much of a response body is read; the rest is cut and the model told. */
export const FETCH_MAX_BYTES = 2 * 1024 * 1024;

export const fetchUrlConfigSchema = z
  .object({
    /**
     * Host names (`homeassistant.local`, `*.lan`) and addresses or CIDRs (`192.168.1.0/24`)
     * that may be fetched although they are loopback, private or link-local.
     */
    allowHosts: z
      .array(z.string().trim().min(1).refine(isAllowEntry, 'a host name (nas.lan, *.lan) or an address or CIDR (192.168.1.0/24)'))
      .default([]),
    timeoutMs: z.number().int().min(100).max(120_000).default(FETCH_TIMEOUT_MS),
    maxBytes: z.number().int().min(1024).max(50 * 1024 * 1024).default(FETCH_MAX_BYTES),
  })
  .prefault({});

/** `tools` in the config file: settings of the built-in tools. */
export const builtinToolsSchema = z
  .object({
    fetchUrl: fetchUrlConfigSchema,
  })
  .prefault({});

export type FetchUrlConfig = z.output<typeof fetchUrlConfigSchema>;
export type BuiltinToolsConfig = z.output<typeof builtinToolsSchema>;
