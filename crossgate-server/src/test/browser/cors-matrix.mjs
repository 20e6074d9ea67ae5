// Runs fetch() from real pages in a real headless Chromium and reports what each page could see.
//
//   node cors-matrix.mjs <config.json>
//
// config.json:
//   {
//     "chromium": "/usr/bin/chromium",
//     "cases": [
//       { "pageUrl": "http://127.0.0.1:PORT/blank",
//         "request": { "url": "http://127.0.0.1:EDGE/api/echo", "method": "PUT",
//                      "headers": { "Authorization": "Bearer demo-token" },
//                      "credentials": "include",          // or "omit" (default), "same-origin"
//                      "bodyBytes": 0,                    // optional: send N zero bytes as the body
//                      "body": "text",                    // optional: send this string instead
//                      "timeoutMs": 20000 } }             // optional, at most 20000
//     ]
//   }
//
// Prints one JSON document on stdout: {"results": [ ...one per case, in case order... ]}, each
//   { index, pageUrl, origin, request, ok: true,  status, statusText, type, headers, body, bodyTruncated,
//     durationMs, console, corsConsole, corsError, failedParameter, errorText, preflight, eventsSeen }
//   { index, pageUrl, origin, request, ok: false, error, durationMs, console, corsConsole, corsError, ... }
// where headers holds every response header the page can read (lower-case names), plus `authorization`
// and `x-crossgate-reason` always (null when not readable), and console holds the page's console messages
// and uncaught errors seen while the case ran. The browser's own verdict comes from the DevTools protocol,
// as cors-errors.mjs reads it: corsError is corsErrorStatus.corsError (Chromium's network::mojom::CorsError
// name, e.g. MissingAllowOriginHeader, PreflightMissingAllowOriginHeader) of the Network.loadingFailed event
// of the fetch's own request (its preflight's as a fallback), failedParameter its failedParameter, errorText
// the net error (net::ERR_FAILED for a CORS refusal; net::ERR_CONNECTION_REFUSED and the like when nothing
// answered, with corsError null), preflight {status, corsError} of the preflight Chromium sent (null when
// none), and eventsSeen whether the fetch's request was seen to end. corsConsole is the console message that
// mentions CORS (or null), for people reading the output.
//
// Exit status: 0 whenever results were printed (a refused fetch is a result, not a failure); 2 when the
// configuration is unusable or the browser could not start. Everything is bounded: each fetch by an
// AbortController (<= 20 s), each page load by 15 s, the whole run by 5 minutes (cases not reached by
// then are reported as ok:false with error "not run: ...").

import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const FETCH_TIMEOUT_MAX_MS = 20_000;
const PAGE_LOAD_TIMEOUT_MS = 15_000;
const RUN_TIMEOUT_MS = 5 * 60_000;
const EVENT_WAIT_MS = 3_000;
const LAUNCH_TIMEOUT_MS = 60_000;
const BODY_LIMIT_CHARS = 64 * 1024;
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync',
  // Containers often have a tiny /dev/shm; Chromium crashes when it runs out.
  '--disable-dev-shm-usage',
];

const runStarted = Date.now();
const results = [];
let browser = null;
let printed = false;

function print(doc) {
  if (printed) return;
  printed = true;
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}

function fail(message) {
  process.stderr.write(`cors-matrix: ${message}\n`);
  print({ results: [], error: message });
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

// ---- configuration ----

if (process.argv.length < 3) fail('usage: node cors-matrix.mjs <config.json>');
let config;
try {
  config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  fail(`cannot read ${process.argv[2]}: ${e.message}`);
}
const cases = Array.isArray(config.cases) ? config.cases : fail('config has no "cases" array');
const executablePath = config.chromium || '/usr/bin/chromium';

// ---- whole-run bound: print what we have, mark the rest as not run, leave ----

const runTimer = setTimeout(async () => {
  for (let i = results.length; i < cases.length; i++) {
    results.push(notRun(i, `not run: the whole run exceeded ${RUN_TIMEOUT_MS / 1000} s`));
  }
  print({ results, timedOut: true });
  try { await withTimeout(browser?.close() ?? Promise.resolve(), 5_000, 'browser close'); } catch { /* exiting */ }
  process.exit(0);
}, RUN_TIMEOUT_MS);
runTimer.unref();

function notRun(index, error) {
  const c = cases[index] ?? {};
  return { index, pageUrl: c.pageUrl ?? null, origin: null, request: c.request ?? null, ok: false, error,
           durationMs: 0, console: [], corsConsole: null, corsError: null, failedParameter: null, errorText: null,
           preflight: null, eventsSeen: false };
}

// ---- browser ----

try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: LAUNCH_TIMEOUT_MS,
    // chromium.launch always uses a fresh temporary user-data-dir and deletes it on close.
  });
} catch (e) {
  fail(`could not start Chromium at ${executablePath}: ${e.message.split('\n')[0]}`);
}

// One context, one page per distinct pageUrl, loaded once and reused by every case with that pageUrl.
const context = await browser.newContext({ ignoreHTTPSErrors: false });
const pages = new Map(); // pageUrl -> { page, cdp, origin, loadError, sink, listener }

async function pageFor(pageUrl) {
  let entry = pages.get(pageUrl);
  if (entry) return entry;
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  entry = { page, cdp, origin: null, loadError: null, sink: null, listener: null };
  pages.set(pageUrl, entry);
  for (const name of ['Network.requestWillBeSent', 'Network.responseReceived', 'Network.loadingFailed',
                      'Network.loadingFinished']) {
    cdp.on(name, (params) => entry.listener?.(name, params));
  }
  await cdp.send('Network.enable');
  // No cache: every case reaches the server, and no preflight is answered from Chromium's preflight cache.
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  page.on('console', (msg) => entry.sink?.push({ type: msg.type(), text: msg.text() }));
  page.on('pageerror', (err) => entry.sink?.push({ type: 'pageerror', text: String(err?.message ?? err) }));
  page.on('crash', () => entry.sink?.push({ type: 'crash', text: 'page crashed' }));
  try {
    const response = await page.goto(pageUrl, { timeout: PAGE_LOAD_TIMEOUT_MS, waitUntil: 'load' });
    if (response && !response.ok()) entry.loadError = `page ${pageUrl} answered ${response.status()}`;
    entry.origin = await withTimeout(page.evaluate(() => location.origin), 5_000, 'reading origin');
  } catch (e) {
    entry.loadError = `page ${pageUrl} did not load: ${e.message.split('\n')[0]}`;
  }
  return entry;
}

// Runs inside the page. Must be self-contained (it is serialised into the page).
async function pageFetch(req) {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`fetch timed out after ${req.timeoutMs} ms`)),
                           req.timeoutMs);
  try {
    const init = {
      method: req.method || 'GET',
      headers: req.headers || {},
      credentials: req.credentials || 'omit',
      mode: req.mode || 'cors',
      cache: 'no-store',
      redirect: req.redirect || 'follow',
      signal: controller.signal,
    };
    if (typeof req.body === 'string') init.body = req.body;
    else if (req.bodyBytes > 0) init.body = new Uint8Array(req.bodyBytes);
    const res = await fetch(req.url, init);
    const headers = { authorization: null, 'x-crossgate-reason': null };
    for (const [name, value] of res.headers) headers[name.toLowerCase()] = value;
    let body = await res.text();
    let bodyTruncated = false;
    if (body.length > req.bodyLimit) { body = body.slice(0, req.bodyLimit); bodyTruncated = true; }
    return { ok: true, status: res.status, statusText: res.statusText, type: res.type, headers, body,
             bodyTruncated, durationMs: Math.round(performance.now() - started) };
  } catch (e) {
    const cause = controller.signal.aborted && controller.signal.reason ? controller.signal.reason : e;
    return { ok: false, error: String(cause?.message ?? cause),
             durationMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

const mentionsCors = (m) => /CORS|Access-Control-/i.test(m.text);

const sameUrl = (a, b) => {
  try { return new URL(a).href === new URL(b).href; } catch { return a === b; }
};

// Collects the DevTools events of one case: the fetch's own request (by URL and method) and its preflight.
function eventsOf(url, method) {
  const requests = new Map(); // requestId -> { preflight, method, status, failed, finished }
  const listener = (name, p) => {
    if (name === 'Network.requestWillBeSent') {
      if (!sameUrl(p.request.url, url)) return;
      const preflight = p.type === 'Preflight' || (p.request.method === 'OPTIONS' && method !== 'OPTIONS');
      if (!preflight && p.request.method !== method) return;
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
  const main = () => [...requests.values()].find((r) => !r.preflight);
  const pre = () => [...requests.values()].find((r) => r.preflight);
  const ended = () => { const m = main(); return !!m && !!(m.failed || m.finished); };
  const verdict = () => {
    const m = main();
    const p = pre();
    const status = m?.failed?.corsErrorStatus ?? p?.failed?.corsErrorStatus ?? null;
    return { corsError: status?.corsError ?? null, failedParameter: status?.failedParameter ?? null,
             errorText: m?.failed?.errorText ?? p?.failed?.errorText ?? null, eventsSeen: ended(),
             preflight: p ? { status: p.status, corsError: p.failed?.corsErrorStatus?.corsError ?? null } : null };
  };
  return { listener, ended, verdict };
}

for (let i = 0; i < cases.length; i++) {
  const c = cases[i] ?? {};
  const request = c.request ?? {};
  if (!c.pageUrl || !request.url) { results.push(notRun(i, 'case needs pageUrl and request.url')); continue; }
  const timeoutMs = Math.min(Number(request.timeoutMs) > 0 ? Number(request.timeoutMs) : FETCH_TIMEOUT_MAX_MS,
                             FETCH_TIMEOUT_MAX_MS);
  const entry = await pageFor(c.pageUrl);
  const messages = [];
  entry.sink = messages;
  const events = eventsOf(request.url, String(request.method || 'GET').toUpperCase());
  entry.listener = events.listener;
  let outcome;
  if (entry.loadError) {
    outcome = { ok: false, error: entry.loadError, durationMs: 0 };
  } else {
    try {
      outcome = await withTimeout(
        entry.page.evaluate(pageFetch, { ...request, timeoutMs, bodyLimit: BODY_LIMIT_CHARS }),
        timeoutMs + 10_000, 'page.evaluate');
    } catch (e) {
      outcome = { ok: false, error: `harness: ${e.message.split('\n')[0]}`, durationMs: timeoutMs + 10_000 };
    }
    // The DevTools events (and the console message) arrive a moment after fetch settles: wait for the request's end.
    const eventsUntil = Date.now() + EVENT_WAIT_MS;
    while (Date.now() < eventsUntil && !events.ended()) await sleep(20);
    const settleUntil = Date.now() + (outcome.ok ? 0 : 500);
    while (Date.now() < settleUntil && !(messages.some(mentionsCors))) await sleep(25);
  }
  entry.sink = null;
  entry.listener = null;
  const corsMessage = messages.find(mentionsCors);
  results.push({ index: i, pageUrl: c.pageUrl, origin: entry.origin, request, ...outcome,
                 console: messages, corsConsole: corsMessage ? corsMessage.text : null, ...events.verdict() });
}

print({ results });
clearTimeout(runTimer);
try {
  await withTimeout(browser.close(), 10_000, 'browser close');
} catch (e) {
  process.stderr.write(`cors-matrix: ${e.message}\n`);
}
process.exit(0);
