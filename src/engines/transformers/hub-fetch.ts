import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { hasProxyVariable, isLoopback, matchesNoProxy } from '../../core/proxy.js';
import { createProxyFetch, type ProxyFetchOptions } from '../../core/proxy-fetch.js';

/** Where Transformers.js downloads models from unless its `env.remoteHost` says otherwise. */
export const HUB_URL = 'https://huggingface.co';

/**
 * Where models are downloaded from: `HF_ENDPOINT` (a mirror of the Hub, as huggingface_hub
 * reads it), else the Hub. A value that is not an http(s) URL is a configuration error.
 */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const value = env.HF_ENDPOINT?.trim();
  if (!value) return HUB_URL;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`HF_ENDPOINT ${value}: not a URL (give the mirror as https://host)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError(`HF_ENDPOINT ${value}: not an http(s) URL`);
  return value.replace(/\/+$/, '');
}

/** The slice of Transformers.js' `env` that downloads go through. */
export interface HubEnv {
  fetch: (input: string | URL, init?: RequestInit) => Promise<unknown>;
  remoteHost: string;
}

/** Fetches installed here, and the one each replaced. */
const replaced = new WeakMap<object, HubEnv['fetch']>();

/**
 * Points Transformers.js at `HF_ENDPOINT` when it is set (its `remoteHost`; otherwise left as
 * it is), and makes it download models (from the Hub, or wherever its `remoteHost` points,
 * and the CDN the Hub redirects to) through the proxy that HTTPS_PROXY / HTTP_PROXY /
 * ALL_PROXY name for each URL, unless NO_PROXY says otherwise (core/proxy-fetch.ts): its
 * default, Node's fetch, ignores those variables on Node 20. Call before a load that may
 * download. With no proxy variable set nothing changes: Node's fetch stays (a fetch put there
 * by an earlier call is taken back). The first request to each origin logs which proxy it
 * goes through, never the password.
 */
export function routeHubDownloads(
  hub: HubEnv,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  options: Pick<ProxyFetchOptions, 'ca'> = {},
): void {
  if (env.HF_ENDPOINT?.trim()) {
    const endpoint = hubEndpoint(env);
    if (hub.remoteHost !== `${endpoint}/`)
      logger.info(`model downloads from ${endpoint} (HF_ENDPOINT) instead of the Hugging Face Hub`);
    hub.remoteHost = `${endpoint}/`;
  }
  const current = hub.fetch;
  const before = replaced.get(current) ?? current;
  if (!hasProxyVariable(env)) {
    hub.fetch = before;
    return;
  }
  const proxied = createProxyFetch({
    env,
    ...options,
    onRoute: (origin, proxy) => {
      const url = new URL(origin);
      if (proxy) {
        logger.info(
          `model downloads from ${origin} go through the proxy ${proxy.label} (from ${proxy.variable})`,
        );
      } else {
        logger.info(`model downloads from ${origin} go directly (${whyDirect(url, env)})`);
      }
    },
  });
  replaced.set(proxied, before);
  hub.fetch = proxied;
}

/** Why proxyFor chose no proxy for `url`, for the log. */
function whyDirect(url: URL, env: NodeJS.ProcessEnv): string {
  if (isLoopback(url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase())) return 'a loopback host';
  const noProxy = env.no_proxy ?? env.NO_PROXY;
  if (matchesNoProxy(url, noProxy)) return `NO_PROXY ${noProxy}`;
  return `no proxy variable for ${url.protocol}// URLs`;
}
