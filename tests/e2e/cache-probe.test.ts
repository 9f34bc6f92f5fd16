import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCacheServer, type CacheServer } from './nx-cache-server.ts';
import { PROBE_HASH, probeCache } from '../../pipeline/scale/probe.ts';

/**
 * `npm run cache:probe` against the conformant Nx cache server of the tests: a token that may write
 * passes (GET 404 or 200, PUT 200 or 409); a read-only, wrong or missing token, a port nobody listens on,
 * a server that never answers and one that does not speak Nx's API each end in exit 2 with `error: ...`
 * naming the server and what failed.
 */
const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const WRITE = 'probe-write';
const READ = 'probe-read';

interface Probe { status: number | null; stdout: string; stderr: string }

/** `npm run --silent cache:probe -- <args>` in the repo, with the token (or none) and the server variable given. */
function probe(args: string[], env: { token?: string; server?: string } = {}): Promise<Probe> {
  const vars = { ...process.env };
  delete vars.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN;
  delete vars.NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
  if (env.token !== undefined) vars.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN = env.token;
  if (env.server !== undefined) vars.NX_SELF_HOSTED_REMOTE_CACHE_SERVER = env.server;
  const child = spawn('npm', ['run', '--silent', 'cache:probe', '--', ...args], { cwd: REPO, env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.on('close', (status) => ok({ status, stdout, stderr })));
}

/** A port on which nothing listens (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

/** An HTTP server answering a request with status(method), or never (null); on `port`, else any free one. */
async function fakeServer(status: (method: string) => number | null, port = 0): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createHttpServer((req, res) => {
    req.resume();
    const s = status(req.method ?? '');
    if (s !== null) res.writeHead(s, { 'Content-Type': 'text/plain' }).end(s === 202 ? 'accepted for later\n' : '');
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

describe('npm run cache:probe', () => {
  let server: CacheServer;
  beforeAll(async () => {
    server = await startCacheServer({ writeTokens: [WRITE], readTokens: [READ] });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('passes with a token that may write: one line, exit 0; and again once the probe entry is stored', async () => {
    const first = await probe(['--server', server.url], { token: WRITE });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe(`the Nx remote cache ${server.url} answers this token: read (GET 404) and write (PUT 200)\n`);
    expect(first.stderr).toBe('');
    expect(server.hashes()).toEqual([PROBE_HASH]);
    // The server from NX_SELF_HOSTED_REMOTE_CACHE_SERVER, as Nx reads it; the entry is there now.
    const again = await probe([], { token: WRITE, server: server.url });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toBe(`the Nx remote cache ${server.url} answers this token: read (GET 200) and write (PUT 409)\n`);
    expect(server.stats.log.slice(-4)).toEqual([`GET /v1/cache/${PROBE_HASH} 404`, `PUT /v1/cache/${PROBE_HASH} 200`, `GET /v1/cache/${PROBE_HASH} 200`, `PUT /v1/cache/${PROBE_HASH} 409`]);
  }, 60_000);

  it('fails on a token that may only read (Nx would store nothing, quietly)', async () => {
    const r = await probe(['--server', server.url], { token: READ });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`error: the Nx remote cache ${server.url} refused the token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN) for writing: PUT /v1/cache/${PROBE_HASH} answered 403: Access forbidden: this token may only read.\n`);
  }, 60_000);

  it('fails on a wrong token', async () => {
    const r = await probe(['--server', server.url], { token: 'not-the-token' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: the Nx remote cache ${server.url} refused the token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN) for reading: GET /v1/cache/${PROBE_HASH} answered 401: Missing or invalid authentication token.\n`);
  }, 60_000);

  it('fails with no token, and says it is not set', async () => {
    for (const token of [undefined, '']) {
      const r = await probe(['--server', server.url], { token });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`error: the Nx remote cache ${server.url} refused reading without a token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN is not set): GET /v1/cache/${PROBE_HASH} answered 401: Missing or invalid authentication token.\n`);
    }
  }, 60_000);

  it('fails when nothing listens on the port', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await probe(['--server', url], { token: WRITE });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: the Nx remote cache ${url} is out of reach: GET /v1/cache/${PROBE_HASH} failed (ECONNREFUSED)\n`);
  }, 60_000);

  it('fails without a server, or with one that is not a URL', async () => {
    const none = await probe([], { token: WRITE });
    expect(none.status).toBe(2);
    expect(none.stderr).toBe('error: no cache server to probe: pass --server URL or set NX_SELF_HOSTED_REMOTE_CACHE_SERVER\n');
    const bad = await probe(['--server', 'cache:3000'], { token: WRITE });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('error: --server: expected the URL of an Nx self-hosted remote cache (http(s)://host:port), found "cache:3000"\n');
  }, 60_000);

  it('fails on a server that never answers, after the timeout', async () => {
    const silent = await fakeServer(() => null);
    try {
      const t0 = performance.now();
      await expect(probeCache({ server: silent.url, token: WRITE, timeoutMs: 500 })).rejects.toThrow(
        `the Nx remote cache ${silent.url} is out of reach: no answer to GET /v1/cache/${PROBE_HASH} within 0.5 s`,
      );
      expect(performance.now() - t0).toBeLessThan(5_000);
    } finally {
      await silent.close();
    }
  });

  it('reaches a server on a port fetch() refuses (10080), as Nx does', async () => {
    const nx = await fakeServer((method) => (method === 'PUT' ? 200 : 404), 10080);
    try {
      await expect(probeCache({ server: nx.url, token: WRITE })).resolves.toBe(`the Nx remote cache ${nx.url} answers this token: read (GET 404) and write (PUT 200)`);
    } finally {
      await nx.close();
    }
  });

  it('fails on a server that does not answer as Nx expects (202 to a PUT, which Nx 24 calls an error)', async () => {
    const odd = await fakeServer((method) => (method === 'PUT' ? 202 : 404));
    try {
      await expect(probeCache({ server: odd.url, token: WRITE })).rejects.toThrow(
        `${odd.url} does not answer as an Nx remote cache: PUT /v1/cache/${PROBE_HASH} answered 202: accepted for later, where Nx expects 200 or 409`,
      );
    } finally {
      await odd.close();
    }
  });
});
