import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConfigError } from '../config/load.ts';

/**
 * Whether the Nx self-hosted remote cache the shards meet in answers Nx's API (`GET`/`PUT
 * <server>/v1/cache/<hash>`, `Authorization: Bearer <token>`) with a token, for reading and for writing:
 * what `npm run cache:probe` (commands/cache-probe.ts) checks before any shard starts, with the server and
 * token Nx itself will use (NX_SELF_HOSTED_REMOTE_CACHE_SERVER, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN;
 * no token is sent when it is unset).
 *   GET of PROBE_HASH    200 or 404: it may read;
 *   PUT of PROBE_ENTRY   200 (stored) or 409 (already there, from an earlier probe): it may write.
 * 401/403 is a refused token (403 to the PUT: a token that may only read, with which Nx stores nothing,
 * quietly); any other answer is not the API Nx speaks (Nx 24 calls even 202 an error); a connection
 * error or no answer within 10 s is a server out of reach (Nx itself would wait forever). Every failure
 * is a ConfigError naming the server and what failed.
 */

/** Nx's task hashes are 64-bit numbers in decimal (at most 20 digits): a 24-digit one is never a task's. */
export const PROBE_HASH = '531705317053170531705317';
/** What the probe stores: a few fixed bytes, never restored by Nx, since no task has PROBE_HASH. */
const PROBE_ENTRY = new TextEncoder().encode('superposition-double-descent cache probe\n');
const PROBE_TIMEOUT_MS = 10_000;

interface ProbeOptions {
  server: string;
  /** The bearer token; undefined sends none. */
  token?: string;
  timeoutMs?: number;
}

interface Answer { status: number; text: string }

/**
 * One HTTP request with a deadline for the whole exchange, through node:http(s) rather than fetch, which
 * refuses ports such as 6000 or 10080 that Nx's own client (and so a cache server) may well use.
 */
function send(url: URL, method: string, headers: Record<string, string>, body: Uint8Array | undefined, timeoutMs: number): Promise<Answer> {
  return new Promise((ok, fail) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text = (text + d).slice(0, 1000)));
      res.on('end', () => ok({ status: res.statusCode ?? 0, text }));
      res.on('error', fail);
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'TIMEOUT' })), timeoutMs);
    req.on('error', fail);
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
}

/** The first line of a refusal's text/plain body, for the message (Nx shows it too). */
const reason = (text: string) => {
  const line = text.trim().split('\n')[0].slice(0, 200);
  return line ? `: ${line}` : '';
};

/** One request of the probe; every failure is a ConfigError that names the server and the request. */
async function request(o: ProbeOptions, method: 'GET' | 'PUT', ok: number[]): Promise<number> {
  const url = `${o.server}/v1/cache/${PROBE_HASH}`; // as Nx builds it, trailing slash of the server and all
  const what = `${method} /v1/cache/${PROBE_HASH}`;
  const timeoutMs = o.timeoutMs ?? PROBE_TIMEOUT_MS;
  const headers: Record<string, string> = {
    ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}),
    ...(method === 'PUT' ? { 'Content-Type': 'application/octet-stream', 'Content-Length': String(PROBE_ENTRY.length) } : { Accept: 'application/octet-stream' }),
  };
  let res: Answer;
  try {
    res = await send(new URL(url), method, headers, method === 'PUT' ? PROBE_ENTRY : undefined, timeoutMs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'TIMEOUT') throw new ConfigError(`the Nx remote cache ${o.server} is out of reach: no answer to ${what} within ${timeoutMs / 1000} s`);
    throw new ConfigError(`the Nx remote cache ${o.server} is out of reach: ${what} failed (${err.code ?? err.message})`);
  }
  if (ok.includes(res.status)) return res.status;
  const access = method === 'GET' ? 'reading' : 'writing';
  if (res.status === 401 || res.status === 403) {
    const refused = o.token ? `the token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN) for ${access}` : `${access} without a token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN is not set)`;
    throw new ConfigError(`the Nx remote cache ${o.server} refused ${refused}: ${what} answered ${res.status}${reason(res.text)}`);
  }
  throw new ConfigError(`${o.server} does not answer as an Nx remote cache: ${what} answered ${res.status}${reason(res.text)}, where Nx expects ${ok.join(' or ')}`);
}

/** Probes reading, then writing; resolves to the one line to print, or rejects with a ConfigError. */
export async function probeCache(o: ProbeOptions): Promise<string> {
  const read = await request(o, 'GET', [200, 404]);
  const write = await request(o, 'PUT', [200, 409]);
  return `the Nx remote cache ${o.server} answers ${o.token ? 'this token' : 'without a token'}: read (GET ${read}) and write (PUT ${write})`;
}

/** The server to probe: --server, else NX_SELF_HOSTED_REMOTE_CACHE_SERVER; an http(s) URL. */
export function probeServer(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const server = flag ?? env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
  const from = flag === undefined ? 'NX_SELF_HOSTED_REMOTE_CACHE_SERVER' : '--server';
  if (!server) throw new ConfigError('no cache server to probe: pass --server URL or set NX_SELF_HOSTED_REMOTE_CACHE_SERVER');
  if (!/^https?:\/\/[^/\s]+/.test(server)) throw new ConfigError(`${from}: expected the URL of an Nx self-hosted remote cache (http(s)://host:port), found "${server}"`);
  return server;
}
