// Issue 13: the admin listener's live status page in real Chromium. Opens URL, waits (bounded) until the page has
// updated from its event stream and shows every text in WANT (JSON array) — refusal codes, origins, transports —,
// writes a screenshot to SHOT, and prints one JSON object: {ok, state, refusals, origins, sio, rps, signedIn}.
// With TOKEN (admin.token), the page first shows its sign-in form: the token is typed into it and submitted, as an
// operator would, and the page then streams with the session cookie the form's answer set.
//   node status-page.mjs http://127.0.0.1:PORT/status '["cors.origin_not_allowed", ...]' target/status-page.png [TOKEN]
import { chromium } from 'playwright-core';

const [url, want, shot, token] = [process.argv[2], JSON.parse(process.argv[3]), process.argv[4], process.argv[5]];
if (!/^http:\/\/127\.0\.0\.1:\d+\/status$/.test(url)) {
  console.error('only a loopback status URL');
  process.exit(2);
}
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 420, height: 1400 } }); // a phone's width
  const first = await page.goto(url);
  let signedIn = null;
  if (token) {
    // The form, as a 401; then the page itself after the form's POST and its 303.
    if (first.status() !== 401 || !(await page.$('form[action="/status/login"] input#token'))) {
      throw new Error(`expected the sign-in form (401), got ${first.status()}`);
    }
    await page.fill('#token', token);
    await Promise.all([page.waitForURL(url, { timeout: 10000 }), page.click('button[type=submit]')]);
    const cookies = await page.context().cookies(url);
    signedIn = cookies.some((c) => c.name === 'crossgate_admin' && c.httpOnly && c.sameSite === 'Strict');
  }
  const text = async () => page.evaluate(() => ({
    state: document.getElementById('state').textContent,
    refusals: document.getElementById('refusals').innerText,
    origins: document.getElementById('origins').innerText,
    sio: document.getElementById('sio').textContent,
    rps: document.getElementById('rps').textContent,
    all: document.body.innerText,
  }));
  const end = Date.now() + 30000;
  let t = await text();
  while (Date.now() < end && !(t.state === 'live' && want.every((w) => t.all.includes(w)))) {
    await new Promise((r) => setTimeout(r, 200));
    t = await text();
  }
  await page.screenshot({ path: shot, fullPage: true });
  const ok = t.state === 'live' && want.every((w) => t.all.includes(w));
  delete t.all;
  console.log(JSON.stringify({ ok, signedIn, ...t }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e.message || e) }));
} finally {
  await browser.close();
}
