/**
 * The dashboard's files (`ui/` in the package: plain ES modules and CSS, no build step), served by the admin
 * listener under /ui. Only the files named in ASSETS are served, by exact path: nothing in a URL reaches the file
 * system, so no path can traverse. They are read once, when the admin listener starts.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AdminAnswer } from './admin.js';

/** Where the files are: `ui/` beside `src/` (tests, a clone) and beside `dist/` (the package). */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** URL path -> file in UI_DIR and its content type. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/ui': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/view.js': { file: 'view.js', type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/ui/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/**
 * The page runs only its own scripts and styles and talks only to its own origin: no inline script, no CDN, no
 * frames. Sent with every file.
 */
export const UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  body: string;
  type: string;
  etag: string;
}

export interface UiAssets {
  files: Map<string, Asset>;
  /** Why the files could not be read (a broken install), or null. */
  error: string | null;
}

export function uiAssets(dir: string = UI_DIR): UiAssets {
  const files = new Map<string, Asset>();
  try {
    for (const [path, a] of Object.entries(ASSETS)) {
      const body = readFileSync(`${dir}/${a.file}`, 'utf8');
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      files.set(path, { body, type: a.type, etag });
    }
  } catch (e) {
    return {
      files: new Map(),
      error: `dashboard files missing in ${dir} (${(e as NodeJS.ErrnoException).code}): reinstall mtlsgate`,
    };
  }
  return { files, error: null };
}

/** Paths the dashboard answers (all public: the files hold no data; the data endpoints keep their token). */
export function isUiPath(path: string): boolean {
  return path === '/ui' || path.startsWith('/ui/');
}

/** The answer for a /ui path (a file, 304, 404, 405), or null for any other path. */
export function uiAnswer(method: string, url: string, headers: IncomingHttpHeaders, ui: UiAssets): AdminAnswer | null {
  const path = url.split('?')[0]!;
  if (!isUiPath(path)) return null;
  const common = {
    'cache-control': 'no-cache',
    'content-security-policy': UI_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
  const text = (status: number, body: string): AdminAnswer => ({
    status,
    contentType: 'text/plain; charset=utf-8',
    body: `${body}\n`,
    headers: common,
  });
  if (method !== 'GET') return text(405, 'use GET');
  if (ui.error !== null) return text(500, ui.error);
  const a = ui.files.get(path);
  if (!a) return text(404, 'Not Found');
  // no-cache: the browser keeps the file and asks each time; an unchanged file costs a 304.
  const headersOut = { ...common, etag: a.etag };
  if (headers['if-none-match'] === a.etag) return { status: 304, contentType: a.type, body: '', headers: headersOut };
  return { status: 200, contentType: a.type, body: a.body, headers: headersOut };
}
