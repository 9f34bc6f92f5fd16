import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCacheServer, type CacheServer } from '../e2e/nx-cache-server.ts';

const WRITE = 'write-token';
const READ = 'read-token';
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('nx self-hosted cache server', () => {
  let dir: string;
  let server: CacheServer;
  const url = (hash: string) => `${server.url}/v1/cache/${hash}`;
  const put = (hash: string, body: Uint8Array<ArrayBuffer> | string, token = WRITE) =>
    fetch(url(hash), { method: 'PUT', body, headers: { ...auth(token), 'Content-Type': 'application/octet-stream' } });
  const get = (hash: string, token = WRITE) => fetch(url(hash), { headers: { ...auth(token), Accept: 'application/octet-stream' } });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nx-cache-server-test-'));
    server = await startCacheServer({ dir, writeTokens: [WRITE], readTokens: [READ] });
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips the bytes of a PUT through a GET', async () => {
    const body = randomBytes(200_000);
    const res = await put('1234567890', body);
    expect(res.status).toBe(200); // what Nx accepts as stored (the spec's table says 202; Nx rejects it)
    const back = await get('1234567890');
    expect(back.status).toBe(200);
    expect(back.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await back.arrayBuffer()).equals(body)).toBe(true);
    expect(server.hashes()).toEqual(['1234567890']);
    expect(readFileSync(join(dir, '1234567890')).equals(body)).toBe(true);
    expect(server.stats).toMatchObject({ putsStored: 1, getHits: 1, getMisses: 0, putConflicts: 0, refused: 0 });
  });

  it('answers 409 to a second PUT of a hash and keeps the first bytes', async () => {
    const first = Buffer.from('first');
    expect((await put('abc', first)).status).toBe(200);
    expect((await put('abc', Buffer.from('second, longer'))).status).toBe(409);
    expect(Buffer.from(await (await get('abc')).arrayBuffer()).equals(first)).toBe(true);
    expect(server.stats).toMatchObject({ putsStored: 1, putConflicts: 1 });
  });

  it('answers 404 to a GET of a hash it does not hold', async () => {
    const res = await get('nothing-here');
    expect(res.status).toBe(404);
    expect(server.stats).toMatchObject({ getMisses: 1, getHits: 0 });
  });

  it('answers 401 with a text/plain message to a missing or unknown token', async () => {
    for (const headers of [{}, auth('wrong'), { Authorization: WRITE }]) {
      const g = await fetch(url('abc'), { headers });
      expect(g.status).toBe(401);
      // Nx shows this text to the user, and calls a 401 that is not text/plain a misconfigured server.
      expect(g.headers.get('content-type')).toBe('text/plain');
      expect(await g.text()).toMatch(/token/i);
      const p = await fetch(url('abc'), { method: 'PUT', body: 'x', headers });
      expect(p.status).toBe(401);
      await p.text();
    }
    expect(server.hashes()).toEqual([]);
    expect(server.stats.refused).toBe(6);
  });

  it('lets a read-only token GET but answers 403 to its PUT', async () => {
    expect((await put('abc', Buffer.from('data'))).status).toBe(200);
    const g = await get('abc', READ);
    expect(g.status).toBe(200);
    expect(await g.text()).toBe('data');
    const p = await put('def', Buffer.from('nope'), READ);
    expect(p.status).toBe(403);
    expect(p.headers.get('content-type')).toBe('text/plain');
    await p.text();
    expect((await get('def', READ)).status).toBe(404);
    expect(server.hashes()).toEqual(['abc']);
    expect(server.stats.refused).toBe(1);
  });

  it('stores one of two concurrent PUTs of a hash, intact, and answers 409 to the other', async () => {
    for (let round = 0; round < 10; round++) {
      const hash = `race${round}`;
      const a = Buffer.alloc(1_000_000, 'a');
      const b = Buffer.alloc(1_000_000, 'b');
      const statuses = (await Promise.all([put(hash, a), put(hash, b)])).map((r) => r.status).sort();
      expect(statuses).toEqual([200, 409]);
      const back = Buffer.from(await (await get(hash)).arrayBuffer());
      expect(back.equals(a) || back.equals(b)).toBe(true);
    }
    expect(server.stats).toMatchObject({ putsStored: 10, putConflicts: 10 });
    // No temp files are left behind, and only the entries are in the directory.
    expect(readdirSync(dir).sort()).toEqual(server.hashes());
  });

  it('does not store a body cut short of its Content-Length', async () => {
    const { request } = await import('node:http');
    await new Promise<void>((ok) => {
      const req = request(url('short'), { method: 'PUT', headers: { ...auth(WRITE), 'Content-Length': 1000 } });
      req.on('error', () => ok());
      req.write(Buffer.alloc(10));
      setTimeout(() => {
        req.destroy();
        setTimeout(ok, 100);
      }, 100);
    });
    expect((await get('short')).status).toBe(404);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses hashes that are not plain names', async () => {
    // fetch resolves `%2e%2e` as `..` itself, so that one never reaches a cache path (404).
    for (const h of ['..%2Fescape', '.upload-x', '%2e%2e']) {
      const res = await put(h, Buffer.from('x'));
      expect([400, 404]).toContain(res.status);
      await res.text();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reads back entries already in its directory after a restart', async () => {
    expect((await put('kept', Buffer.from('kept'))).status).toBe(200);
    await server.close();
    server = await startCacheServer({ dir, writeTokens: [WRITE] });
    expect(server.hashes()).toEqual(['kept']);
    expect((await put('kept', Buffer.from('again'))).status).toBe(409);
    expect(await (await get('kept')).text()).toBe('kept');
  });
});
