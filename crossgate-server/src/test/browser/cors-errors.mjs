// Runs fetch() from a page in a real headless Chromium and reports, per case, Chromium's own name for the
// CORS failure (network::mojom::CorsError, read from the DevTools protocol), or null when the fetch succeeded.
//
//   node cors-errors.mjs <cases.json>          a file holding the cases
//   node cors-errors.mjs '<json>'              the cases themselves (an argument starting with [ or {)
//   node cors-errors.mjs                       the cases on stdin (also with "-")
//
// The cases: a JSON array, or {"chromium": "/usr/bin/chromium", "cases": [...]}; each case
//   { "id": "any label (optional)",
//     "pageUrl": "http://localhost:PORT/page",        // the page the fetch runs in (its origin is the request's Origin)
//     "url": "http://127.0.0.1:PORT/path",            // the target of the fetch
//     "method": "PUT",                                // default GET
//     "headers": {"X-Api-Key": "k"} or [["X-Api-Key", "k"]],
//     "credentials": true }                           // true: credentials "include"; false (default): "same-origin"
// Every URL must be loopback (localhost, 127.0.0.1, [::1]); Chromium is also told to resolve no other name.
//
// Prints one JSON line per case on stdout, in case order, as soon as the case has run:
//   {"index":0,"id":...,"pageUrl":...,"url":...,"method":...,"ok":true,"status":200,"corsError":null,...}
//   {"index":1,...,"ok":false,"error":"TypeError: Failed to fetch","corsError":"PreflightMissingAllowOriginHeader",
//    "failedParameter":"","requestId":"...","preflight":{"status":404,...}}
// where corsError is corsErrorStatus.corsError of the Network.loadingFailed event of the fetch's own request
// (matched by URL, method and requestId, the CORS preflight set apart), and preflight describes the preflight
// Chromium sent for it (null when none was seen).
//
// Exit status: 0 when a line was printed for every case (a refused fetch is a result, not a failure); 2 when
// the cases are unusable or the browser could not start. Everything is bounded: Chromium's launch (30 s), each
// page load (10 s), each fetch (10 s, by an AbortController), waiting for the DevTools events (3 s), the whole run
// (2 minutes: cases not reached by then are printed with corsError null and error "not run: ...").

import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const LAUNCH_TIMEOUT_MS = 30_000;
const PAGE_LOAD_TIMEOUT_MS = 10_000;
const FETCH_TIMEOUT_MS = 10_000;
const EVENT_WAIT_MS = 3_000;
const RUN_TIMEOUT_MS = 2 * 60_000;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
  // Loopback only: no other host name resolves.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]',
];

let browser = null;
let printedCount = 0;

function line(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
  printedCount++;
}

function fail(message) {
  process.stderr.write(`cors-errors: ${message}\n`);
  process.exit(2);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

// ---- the cases ----

let text;
const arg = process.argv[2];
try {
  if (arg === undefined || arg === '-') text = await withTimeout(readStdin(), 10_000, 'reading stdin');
  else if (/^\s*[[{]/.test(arg)) text = arg;
  else text = readFileSync(arg, 'utf8');
} catch (e) {
  fail(`cannot read the cases: ${e.message}`);
}
let input;
try {
  input = JSON.parse(text);
} catch (e) {
  fail(`the cases are not JSON: ${e.message}`);
}
const cases = Array.isArray(input) ? input : Array.isArray(input?.cases) ? input.cases : fail('expected a JSON array of cases');
const executablePath = (!Array.isArray(input) && input.chromium) || '/usr/bin/chromium';

function loopback(u) {
  try {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname);
  } catch {
    return false;
  }
}

function headerList(h) {
  if (!h) return [];
  if (Array.isArray(h)) return h.map(([n, v]) => [String(n), String(v)]);
  return Object.entries(h).map(([n, v]) => [n, String(v)]);
}

function describe(i, c) {
  return { index: i, id: c?.id ?? null, pageUrl: c?.pageUrl ?? null, url: c?.url ?? null,
           method: String(c?.method ?? 'GET').toUpperCase(), credentials: !!c?.credentials };
}

// ---- whole-run bound ----

const runTimer = setTimeout(async () => {
  for (let i = printedCount; i < cases.length; i++) {
    line({ ...describe(i, cases[i]), ok: false, status: null, corsError: null,
           error: `not run: the whole run exceeded ${RUN_TIMEOUT_MS / 1000} s` });
  }
  try { await withTimeout(browser?.close() ?? Promise.resolve(), 5_000, 'browser close'); } catch { /* exiting */ }
  process.exit(0);
}, RUN_TIMEOUT_MS);
runTimer.unref();

// ---- browser ----

try {
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: LAUNCH_TIMEOUT_MS });
} catch (e) {
  fail(`could not start Chromium at ${executablePath}: ${e.message.split('\n')[0]}`);
}
const context = await browser.newContext();

// One page (and one DevTools session) per distinct pageUrl, loaded once.
const pages = new Map();

async function pageFor(pageUrl) {
  let entry = pages.get(pageUrl);
  if (entry) return entry;
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  entry = { page, cdp, loadError: null, listener: null };
  pages.set(pageUrl, entry);
  for (const name of ['Network.requestWillBeSent', 'Network.responseReceived', 'Network.loadingFailed',
                      'Network.loadingFinished']) {
    cdp.on(name, (params) => entry.listener?.(name, params));
  }
  await cdp.send('Network.enable');
  // No cache: every case reaches the server (and a preflight is never answered from Chromium's preflight cache
  // by a previous case: the cases' URLs differ anyway).
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  try {
    const response = await page.goto(pageUrl, { timeout: PAGE_LOAD_TIMEOUT_MS, waitUntil: 'load' });
    if (response && !response.ok()) entry.loadError = `page ${pageUrl} answered ${response.status()}`;
  } catch (e) {
    entry.loadError = `page ${pageUrl} did not load: ${e.message.split('\n')[0]}`;
  }
  return entry;
}

// Runs inside the page (serialised into it): the fetch of one case.
async function pageFetch(req) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`fetch timed out after ${req.timeoutMs} ms`)), req.timeoutMs);
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      credentials: req.credentials ? 'include' : 'same-origin',
      mode: 'cors',
      cache: 'no-store',
      signal: controller.signal,
    });
    await res.arrayBuffer();
    return { ok: true, status: res.status };
  } catch (e) {
    const cause = controller.signal.aborted && controller.signal.reason ? controller.signal.reason : e;
    return { ok: false, status: null, error: `${cause?.name ?? 'Error'}: ${cause?.message ?? cause}` };
  } finally {
    clearTimeout(timer);
  }
}

const sameUrl = (a, b) => {
  try { return new URL(a).href === new URL(b).href; } catch { return a === b; }
};

for (let i = 0; i < cases.length; i++) {
  const c = cases[i];
  const d = describe(i, c);
  if (!c || !c.pageUrl || !c.url) { line({ ...d, ok: false, status: null, corsError: null, error: 'the case needs pageUrl and url' }); continue; }
  if (!loopback(c.pageUrl) || !loopback(c.url)) {
    line({ ...d, ok: false, status: null, corsError: null, error: 'refused: only loopback URLs (localhost, 127.0.0.1, [::1])' });
    continue;
  }
  const entry = await pageFor(c.pageUrl);
  if (entry.loadError) { line({ ...d, ok: false, status: null, corsError: null, error: entry.loadError }); continue; }

  // The DevTools events of this case: the fetch's request (by URL and method, not the preflight) and its end.
  const requests = new Map(); // requestId -> { preflight, method, status, failed, finished }
  entry.listener = (name, p) => {
    if (name === 'Network.requestWillBeSent') {
      if (!sameUrl(p.request.url, c.url)) return;
      const preflight = p.type === 'Preflight' || (p.request.method === 'OPTIONS' && d.method !== 'OPTIONS');
      if (!preflight && p.request.method !== d.method) return;
      // A redirect re-uses the requestId: keep the first entry.
      if (!requests.has(p.requestId)) requests.set(p.requestId, { preflight, method: p.request.method, status: null });
      return;
    }
    const r = requests.get(p.requestId);
    if (!r) return;
    if (name === 'Network.responseReceived') r.status = p.response?.status ?? null;
    else if (name === 'Network.loadingFailed') r.failed = p;
    else if (name === 'Network.loadingFinished') r.finished = true;
  };
  let outcome;
  try {
    outcome = await withTimeout(
      entry.page.evaluate(pageFetch, { url: c.url, method: d.method, headers: headerList(c.headers), credentials: d.credentials,
                                       timeoutMs: FETCH_TIMEOUT_MS }),
      FETCH_TIMEOUT_MS + 5_000, 'page.evaluate');
  } catch (e) {
    outcome = { ok: false, status: null, error: `harness: ${e.message.split('\n')[0]}` };
  }
  // The events arrive a moment after fetch settles: wait until the fetch's own request has ended.
  const main = () => [...requests.entries()].find(([, r]) => !r.preflight);
  const ended = () => { const m = main(); return m && (m[1].failed || m[1].finished); };
  const until = Date.now() + EVENT_WAIT_MS;
  while (Date.now() < until && !ended()) await sleep(20);
  entry.listener = null;

  const m = main();
  const pre = [...requests.entries()].find(([, r]) => r.preflight);
  // The fetch's own request carries the error; a preflight's own loadingFailed (when Chromium reports one) is the fallback.
  const status = m?.[1].failed?.corsErrorStatus ?? pre?.[1].failed?.corsErrorStatus ?? null;
  line({ ...d, ...outcome,
         corsError: status?.corsError ?? null,
         failedParameter: status?.failedParameter ?? null,
         errorText: m?.[1].failed?.errorText ?? null,
         requestId: m?.[0] ?? null,
         eventsSeen: !!ended(),
         preflight: pre ? { requestId: pre[0], status: pre[1].status, corsError: pre[1].failed?.corsErrorStatus?.corsError ?? null } : null });
}

clearTimeout(runTimer);
try {
  await withTimeout(browser.close(), 10_000, 'browser close');
} catch (e) {
  process.stderr.write(`cors-errors: ${e.message}\n`);
}
process.exit(0);
