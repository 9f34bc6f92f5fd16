import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { chromium, type Page } from 'playwright-core';

/**
 * What the end-to-end tests need of a web server and a browser: a static folder served on 127.0.0.1
 * (site-absolute paths need a server, not file://) and the system's Chromium, never a downloaded one.
 */

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

export interface Served {
  /** http://127.0.0.1:<port><base>, without a trailing slash. */
  url: string;
  close: () => Promise<void>;
}

/**
 * Serves `dir` at `base` (default '/': a site built with a baseurl lives under it). A folder gives its
 * index.html, and /a/b gives /a/b.html when there is no /a/b (as GitHub Pages does for Jekyll's permalinks).
 */
export async function serveDir(dir: string, base = '/'): Promise<Served> {
  const prefix = base.endsWith('/') ? base : base + '/';
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const rel = path.startsWith(prefix) ? normalize(path.slice(prefix.length)) : null;
    const file = rel === null || rel.startsWith('..') ? null
      : [join(dir, rel), join(dir, rel, 'index.html'), join(dir, rel + '.html')].find((f) => statSync(f, { throwIfNoEntry: false })?.isFile());
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix.slice(0, -1)}`,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

export interface PageImage {
  /** The src attribute, resolved. */
  src: string;
  /** What the browser chose to load (a <picture>'s <source>, or src). */
  currentSrc: string;
  alt: string;
  /** 0 when the image did not load. */
  naturalWidth: number;
  naturalHeight: number;
}

export interface PageReport {
  /** Console messages of type error: a resource that did not load shows up here too. */
  consoleErrors: string[];
  /** Uncaught exceptions in the page's scripts. */
  pageErrors: string[];
  /** Every <img> in document order, once the page's load event fired. */
  images: PageImage[];
  /** The document's HTTP status. */
  status: number | null;
  /** What `interact` returned, after the screenshot. */
  interaction?: unknown;
  /** Every response the page received (the document, images, ...), with the bytes it took on the wire (headers and body). */
  responses: { url: string; status: number; bytes: number }[];
  /** Their sum: what a reader downloads for the page. */
  transferredBytes: number;
}

export interface OpenOptions {
  /** Device pixels per CSS pixel (2 for a phone or a retina screen): srcset picks its image by it. */
  deviceScaleFactor?: number;
  /** Scroll to the bottom and back before measuring, so that lazily loaded images load too (a reader who reads it all). */
  scrollThrough?: boolean;
}

/** Opens `url` in the system's Chromium (headless), reports what went wrong and what the images did, and saves a full-page screenshot. */
export async function openPage(url: string, screenshotFile: string, interact?: (page: Page) => Promise<unknown>, options: OpenOptions = {}): Promise<PageReport> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: options.deviceScaleFactor ?? 1 });
    const pending: Promise<{ url: string; status: number; bytes: number }>[] = [];
    page.on('requestfinished', (request) => pending.push((async () => {
      const sizes = await request.sizes();
      const response = await request.response();
      return { url: request.url(), status: response?.status() ?? 0, bytes: sizes.responseHeadersSize + sizes.responseBodySize };
    })()));
    const consoleErrors: string[] = [];
    const pageErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const response = await page.goto(url, { waitUntil: 'load' });
    if (options.scrollThrough) {
      await page.evaluate(async () => {
        for (let y = 0; y < document.body.scrollHeight; y += window.innerHeight / 2) {
          window.scrollTo(0, y);
          await new Promise((ok) => setTimeout(ok, 50));
        }
        window.scrollTo(0, 0);
      });
      await page.waitForLoadState('networkidle');
      await page.$$eval('img', (imgs) => Promise.all(imgs.map((i) => (i.complete ? null : i.decode().catch(() => null)))));
    }
    const images = await page.$$eval('img', (imgs) =>
      imgs.map((i) => ({ src: i.src, currentSrc: i.currentSrc, alt: i.alt, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight })));
    await page.screenshot({ path: screenshotFile, fullPage: true });
    const interaction = interact ? await interact(page) : undefined;
    const responses = await Promise.all(pending);
    const transferredBytes = responses.reduce((a, r) => a + r.bytes, 0);
    return { consoleErrors, pageErrors, images, status: response?.status() ?? null, interaction, responses, transferredBytes };
  } finally {
    await browser.close();
  }
}
