// A real browser (Debian's Chromium, driven through playwright-core) against a
// feishu-media server: what a user gets when they open a temporary download link.
// Usage: node check.js BASE_URL FIXTURES_DIR   (CHROMIUM overrides /usr/bin/chromium)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [base, fixtures] = process.argv.slice(2);
const image = fs.readFileSync(path.join(fixtures, '架构图.png'));
const large = fs.readFileSync(path.join(fixtures, 'large.bin'));

let passed = 0;
let failed = 0;
function check(name, cond, detail = '') {
  if (cond) {
    passed += 1;
    console.log(`ok   browser: ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL browser: ${name} ${detail}`);
  }
}

// Temporary links need no Authorization: they are what a user opens in a browser.
async function tmpUrls(tokens) {
  const auth = await fetch(`${base}/open-apis/auth/v3/tenant_access_token/internal`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ app_id: 'cli_compat', app_secret: 'compat-secret' }),
  }).then((r) => r.json());
  const query = tokens.map((t) => `file_tokens=${t}`).join('&');
  const links = await fetch(`${base}/open-apis/drive/v1/medias/batch_get_tmp_download_url?${query}`, {
    headers: { Authorization: `Bearer ${auth.tenant_access_token}` },
  }).then((r) => r.json());
  return Object.fromEntries(links.data.tmp_download_urls.map((l) => [l.file_token, l.tmp_download_url]));
}

async function main() {
  const urls = await tmpUrls(['boxcnCompatImage', 'boxcnCompatLarge']);
  const imageUrl = urls.boxcnCompatImage;
  const largeUrl = urls.boxcnCompatLarge;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // Without these, Chromium reaches for Google's hosts, which this network refuses.
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();

    // Opening the link downloads the file under its stored name: Chromium reads
    // `filename*` (RFC 6266), the name is Chinese, and the bytes are the media's.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.goto(imageUrl).catch(() => {}), // a navigation that becomes a download "fails"
    ]);
    check('opening a link downloads it under its UTF-8 name',
      download.suggestedFilename() === '架构图.png', `got ${download.suggestedFilename()}`);
    const saved = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fm-browser-')), 'saved');
    await download.saveAs(saved);
    check('the downloaded bytes are identical', fs.readFileSync(saved).equals(image));

    // From a page of the same origin, as a web app served beside the media would be.
    await page.goto(`${base}/healthz`);
    const size = await page.evaluate(async (u) => {
      const img = new Image();
      img.src = u;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    }, imageUrl);
    check('an <img> shows the image', size[0] > 0 && size[1] > 0, JSON.stringify(size));

    const ranged = await page.evaluate(async (u) => {
      const r = await fetch(u, { headers: { Range: 'bytes=100-199' } });
      return { status: r.status, range: r.headers.get('content-range'),
        body: Array.from(new Uint8Array(await r.arrayBuffer())) };
    }, largeUrl);
    check('fetch with Range gets 206 and those bytes',
      ranged.status === 206 && ranged.range === `bytes 100-199/${large.length}`
        && Buffer.from(ranged.body).equals(large.subarray(100, 200)),
      `status ${ranged.status} ${ranged.range}`);

    const head = await page.evaluate(async (u) => {
      const r = await fetch(u, { method: 'HEAD' });
      return { status: r.status, length: r.headers.get('content-length'),
        ranges: r.headers.get('accept-ranges'), etag: r.headers.get('etag') };
    }, largeUrl);
    check('HEAD tells the size and that ranges are served',
      head.status === 200 && head.length === String(large.length) && head.ranges === 'bytes'
        && /^"[0-9a-f]+"$/.test(head.etag || ''), JSON.stringify(head));

    // The browser's cache revalidates with the ETag; the server answers 304 and the
    // page still gets the whole body. A URL of its own (the server ignores the extra
    // parameter), so that the ranges fetched above are not in its cache entry: Chromium
    // would then ask for the rest with a Range of its own.
    const freshUrl = `${largeUrl}&fresh=1`;
    // What went on the wire: the request headers the network stack really sent, and
    // the raw status lines (the page itself sees a revalidated answer as 200).
    const sent = [];
    page.on('request', (r) => { if (r.url() === freshUrl) sent.push(r.allHeaders()); });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const wire = [];
    cdp.on('Network.responseReceivedExtraInfo', (e) => wire.push(e.statusCode));
    const revalidated = await page.evaluate(async (u) => {
      await (await fetch(u)).arrayBuffer();
      const r = await fetch(u, { cache: 'no-cache' });
      return { status: r.status, length: (await r.arrayBuffer()).byteLength };
    }, freshUrl);
    const conditional = (await Promise.all(sent)).filter((h) => h['if-none-match']);
    check('a revalidation sends the ETag, gets 304, and the page still has the whole body',
      revalidated.status === 200 && revalidated.length === large.length
        && conditional.length === 1 && conditional[0]['if-none-match'] === head.etag
        && JSON.stringify(wire) === '[200,304]',
      `${JSON.stringify(revalidated)} conditional: ${JSON.stringify(conditional)} wire: ${wire}`);

    const tampered = await page.evaluate(async (u) => {
      const r = await fetch(u.replace(/code=./, 'code=x'));
      return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
    }, largeUrl);
    check('a tampered link gets 403 and the JSON envelope',
      tampered.status === 403 && tampered.body.code === 1061004
        && tampered.type.startsWith('application/json'), JSON.stringify(tampered));

    // The OAuth consent page as a tester uses it: pick a user, Grant, and the browser is
    // sent to the redirect_uri with a code (caught here: nothing listens there).
    const redirect = 'http://127.0.0.1:39999/callback';
    let landed = null;
    // A real listener at the redirect_uri, as the tester's app would have (a route
    // does not see a navigation that a redirect started).
    const callback = require('http').createServer((req, res) => {
      // Only the callback itself: the browser asks for /favicon.ico too.
      if (req.url.startsWith('/callback')) landed = `http://127.0.0.1:39999${req.url}`;
      res.end('callback');
    });
    await new Promise((ok) => callback.listen(39999, '127.0.0.1', ok));
    const authorize = `${base}/open-apis/authen/v1/authorize?client_id=cli_compat&response_type=code`
      + `&redirect_uri=${encodeURIComponent(redirect)}&scope=${encodeURIComponent('docx:document:readonly offline_access')}`
      + '&state=browser-1';
    await page.goto(authorize);
    check('the consent page labels its user choice', (await page.getByLabel('Sign in as').count()) === 1);
    await page.getByLabel('Sign in as').selectOption('ou_compat');
    await Promise.all([page.waitForURL(`${redirect}**`), page.getByRole('button', { name: 'Grant' }).click()]);
    const back = new URL(landed || 'http://x/');
    check('Grant lands on the redirect_uri with a code and the state',
      back.searchParams.get('state') === 'browser-1' && (back.searchParams.get('code') || '').length > 20, landed);
    const exchanged = await fetch(`${base}/open-apis/authen/v2/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code', client_id: 'cli_compat', client_secret: 'compat-secret',
        code: back.searchParams.get('code'), redirect_uri: redirect }),
    }).then((r) => r.json());
    check('the code from the page exchanges for a user token with a refresh token',
      exchanged.code === 0 && exchanged.access_token.startsWith('u-') && !!exchanged.refresh_token, JSON.stringify(exchanged));
    await page.goto(authorize);
    await Promise.all([page.waitForURL(`${redirect}**`), page.getByRole('button', { name: 'Deny' }).click()]);
    check('Deny lands with error=access_denied', new URL(landed).searchParams.get('error') === 'access_denied', landed);
    callback.close();
  } finally {
    await browser.close();
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL browser: ${e.stack || e}`);
  process.exit(1);
});
