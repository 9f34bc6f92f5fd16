/**
 * A small, conformant server for Nx's self-hosted remote cache API, for tests.
 *
 * The API (OpenAPI "Nx custom remote cache specification", Nx 20.8+,
 * https://nx.dev/docs/kb/self-hosted-caching) has one path, `/v1/cache/{hash}`:
 * - `PUT`: the body is the task's outputs as a gzipped tar (application/octet-stream, with
 *   Content-Length). Nx treats 200 as stored, 409 ("cannot override an existing record") and 403
 *   (e.g. a read-only token) as "not stored", quietly; 401 must carry a text/plain message, which
 *   Nx shows; any other status is an error ("Misconfigured remote cache endpoint"). The spec's
 *   table says 202 for a stored upload, but Nx (http_remote_cache.rs) only accepts 200
 *   (nrwl/nx#32870), so this server answers 200.
 * - `GET`: 200 with the bytes as application/octet-stream, 404 on a miss, 401/403 refused.
 * Nx sends `Authorization: Bearer <NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN>` when that is set.
 *
 * Tokens: `writeTokens` may GET and PUT, `readTokens` only GET. With no tokens configured at all
 * the server is open. A missing or unknown token is 401 (text/plain); a read token used to PUT is
 * 403 (text/plain).
 *
 * Entries are files under `dir`, named by hash. A PUT streams to a temp file in `dir` and is then
 * published with link(2), which fails if the name exists: of two concurrent PUTs of one hash
 * exactly one wins (200) and the other gets 409, and a reader never sees a partial entry. A body
 * shorter than its Content-Length (a cut-off upload) is discarded, never stored.
 *
 * Only Node built-ins.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, rm, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';

export interface CacheServerOptions {
  /** Where entries are stored; a fresh temporary directory (removed on close) if not given. */
  dir?: string;
  /** Tokens that may only read (GET). */
  readTokens?: string[];
  /** Tokens that may read and write (GET and PUT). */
  writeTokens?: string[];
  /** Host to listen on; 127.0.0.1 by default. */
  host?: string;
}

export interface CacheServerStats {
  getHits: number;
  getMisses: number;
  putsStored: number;
  putConflicts: number;
  /** Requests answered 401 or 403. */
  refused: number;
  /** Every request, as "METHOD /path STATUS", in the order answered. */
  log: string[];
}

export interface CacheServer {
  /** http://127.0.0.1:<port>, the value for NX_SELF_HOSTED_REMOTE_CACHE_SERVER. */
  url: string;
  dir: string;
  stats: CacheServerStats;
  /** Stored hashes, sorted. */
  hashes(): string[];
  close(): Promise<void>;
}

// Nx builds the URL as `${NX_SELF_HOSTED_REMOTE_CACHE_SERVER}/v1/cache/${hash}`, so a server URL set with a
// trailing slash arrives as `//v1/cache/...`; that is accepted too.
const PATH = /^\/+v1\/cache\/([^/?#]+)$/;
/** Nx hashes are decimal or hex strings; anything that could escape `dir` or collide with a temp file is refused. */
const SAFE_HASH = /^[A-Za-z0-9_-]{1,256}$/;
const TEMP_PREFIX = '.upload-';

export async function startCacheServer(options: CacheServerOptions = {}): Promise<CacheServer> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'nx-cache-server-')));
  await mkdir(dir, { recursive: true });
  const readTokens = new Set(options.readTokens ?? []);
  const writeTokens = new Set(options.writeTokens ?? []);
  const open = readTokens.size === 0 && writeTokens.size === 0;

  const stored = new Set<string>();
  for (const name of await readdir(dir)) if (SAFE_HASH.test(name)) stored.add(name);

  const stats: CacheServerStats = { getHits: 0, getMisses: 0, putsStored: 0, putConflicts: 0, refused: 0, log: [] };

  function finish(req: IncomingMessage, res: ServerResponse, status: number, text?: string): void {
    if (status === 401 || status === 403) stats.refused++;
    stats.log.push(`${req.method} ${req.url} ${status}`);
    if (text !== undefined) {
      res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    } else {
      res.writeHead(status, { 'Content-Length': 0 });
      res.end();
    }
  }

  /** 'read' | 'write' | the refusal to send. */
  function access(req: IncomingMessage): 'read' | 'write' | 'none' {
    if (open) return 'write';
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return 'none';
    if (writeTokens.has(m[1])) return 'write';
    if (readTokens.has(m[1])) return 'read';
    return 'none';
  }

  async function handleGet(req: IncomingMessage, res: ServerResponse, hash: string): Promise<void> {
    const file = join(dir, hash);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      stats.getMisses++;
      return finish(req, res, 404);
    }
    stats.getHits++;
    stats.log.push(`${req.method} ${req.url} 200`);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  }

  async function handlePut(req: IncomingMessage, res: ServerResponse, hash: string): Promise<void> {
    const declared = req.headers['content-length'];
    const expected = declared === undefined ? undefined : Number(declared);
    if (expected !== undefined && !Number.isSafeInteger(expected)) return finish(req, res, 400, 'Bad Content-Length\n');
    if (stored.has(hash)) {
      // Drain (or drop) the body; the answer does not depend on it.
      req.resume();
      stats.putConflicts++;
      return finish(req, res, 409, 'Cannot override an existing record\n');
    }
    const temp = join(dir, `${TEMP_PREFIX}${hash}-${randomBytes(6).toString('hex')}`);
    let received = 0;
    try {
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      // Rejects, and closes the temp file, if the client goes away mid-body.
      await pipeline(req, createWriteStream(temp, { flags: 'wx' }));
      if (expected !== undefined && received !== expected) {
        await unlink(temp).catch(() => {});
        return finish(req, res, 400, `Body was ${received} bytes, Content-Length said ${expected}\n`);
      }
      try {
        await link(temp, join(dir, hash)); // atomic publish: fails with EEXIST if another PUT won
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        stored.add(hash);
        stats.putConflicts++;
        return finish(req, res, 409, 'Cannot override an existing record\n');
      } finally {
        await unlink(temp).catch(() => {});
      }
      stored.add(hash);
      stats.putsStored++;
      return finish(req, res, 200);
    } catch {
      await unlink(temp).catch(() => {});
      if (!res.headersSent && !res.destroyed) finish(req, res, 500, 'Could not store the entry\n');
    }
  }

  const server = createServer((req, res) => {
    const m = PATH.exec(req.url ?? '');
    if (!m) return finish(req, res, 404, 'Not found\n');
    let hash: string;
    try {
      hash = decodeURIComponent(m[1]);
    } catch {
      return finish(req, res, 400, 'Bad hash\n');
    }
    if (!SAFE_HASH.test(hash)) return finish(req, res, 400, 'Bad hash\n');
    const level = access(req);
    if (level === 'none') {
      req.resume();
      return finish(req, res, 401, 'Missing or invalid authentication token.\n');
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      handleGet(req, res, hash).catch(() => res.destroy());
    } else if (req.method === 'PUT') {
      if (level !== 'write') {
        req.resume();
        return finish(req, res, 403, 'Access forbidden: this token may only read.\n');
      }
      handlePut(req, res, hash).catch(() => res.destroy());
    } else {
      req.resume();
      res.setHeader('Allow', 'GET, HEAD, PUT');
      finish(req, res, 405, 'Method not allowed\n');
    }
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, options.host ?? '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    dir,
    stats,
    hashes: () => [...stored].sort(),
    close: async () => {
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

// `node --import tsx tests/e2e/nx-cache-server.ts [dir]`: run one by hand, open unless
// NX_CACHE_SERVER_WRITE_TOKEN / NX_CACHE_SERVER_READ_TOKEN are set.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = process.env;
  startCacheServer({
    dir: process.argv[2],
    writeTokens: env.NX_CACHE_SERVER_WRITE_TOKEN ? [env.NX_CACHE_SERVER_WRITE_TOKEN] : [],
    readTokens: env.NX_CACHE_SERVER_READ_TOKEN ? [env.NX_CACHE_SERVER_READ_TOKEN] : [],
  }).then((s) => {
    console.log(`NX_SELF_HOSTED_REMOTE_CACHE_SERVER=${s.url}  (entries in ${s.dir})`);
    const stop = () => {
      console.log(JSON.stringify({ ...s.stats, hashes: s.hashes() }, null, 2));
      void s.close().then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
