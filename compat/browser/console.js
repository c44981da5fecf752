// The web console in a real browser (Debian's Chromium through playwright-core) against
// a `serve --demo --admin-token …` server: what a tester does with it, and that nothing
// a media's name holds can run. Screenshots of the main views go to SHOTS_DIR.
// Usage: node console.js BASE_URL ADMIN_TOKEN SHOTS_DIR
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [base, adminToken, shots] = process.argv.slice(2);
fs.mkdirSync(shots, { recursive: true });
const HOSTILE = '<img src=x onerror=alert(1)>.png';

let passed = 0;
let failed = 0;
function check(name, cond, detail = '') {
  if (cond) {
    passed += 1;
    console.log(`ok   console: ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL console: ${name} ${detail}`);
  }
}

async function admin(method, p, body) {
  const r = await fetch(`${base}/_admin/v1${p}`, {
    method,
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return r.json();
}

async function tenantToken() {
  const r = await fetch(`${base}/open-apis/auth/v3/tenant_access_token/internal`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ app_id: 'cli_demo', app_secret: 'demo-secret' }),
  }).then((x) => x.json());
  return r.tenant_access_token;
}

async function download(token, file) {
  const r = await fetch(`${base}/open-apis/drive/v1/medias/${file}/download`, { headers: { Authorization: `Bearer ${token}` } });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, body };
}

async function main() {
  // A media whose name is markup: it must show as these characters and run nothing.
  await admin('POST', '/media', {
    file_token: 'boxcnHostile', document: 'doxcnDemo', parent_type: 'docx_file',
    file_name: HOSTILE, content_text: 'hostile',
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const dialogs = [];
  const csp = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(m.text()); });

    const resp = await page.goto(`${base}/console`);
    const policy = resp.headers()['content-security-policy'] || '';
    check('the page forbids inline scripts', /script-src 'self'/.test(policy) && !/unsafe-inline/.test(policy), policy);
    check('the page holds no data before login', !(await page.content()).includes('boxcnDemo'));

    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('The admin token is wrong.').waitFor({ timeout: 5000 });
    check('a wrong token is refused', true);
    check('the token field is a password field', (await page.getByLabel('Admin token').getAttribute('type')) === 'password');

    await page.getByLabel('Admin token').fill(adminToken);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Media', exact: true }).waitFor({ timeout: 5000 });
    check('logging in shows the media', true);
    const stored = await page.evaluate(() => Object.keys(localStorage).length);
    check('nothing is kept beyond the tab', stored === 0 && !(await context.cookies()).length);

    const row = page.locator('tr[data-token="boxcnDemoImage"]');
    await row.waitFor();
    const thumb = row.locator('img.thumb');
    await thumb.waitFor({ timeout: 5000 });
    await page.waitForFunction(() => {
      const i = document.querySelector('tr[data-token="boxcnDemoImage"] img.thumb');
      return i && i.complete && i.naturalWidth > 0;
    }, null, { timeout: 5000 });
    check("the demo's image shows with its thumbnail", true);
    await page.screenshot({ path: path.join(shots, 'media.png'), fullPage: true });

    const hostile = page.locator('tr[data-token="boxcnHostile"] td').nth(1);
    check('a hostile name renders as its characters', (await hostile.innerText()).trim() === HOSTILE, await hostile.innerText());
    check('and no element came of it', (await page.locator('img[src="x"]').count()) === 0);

    // Upload through the console, then download it back with the API.
    const upload = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fm-console-')), '上传.txt');
    fs.writeFileSync(upload, 'uploaded from the console');
    await page.getByLabel('Upload a file').setInputFiles(upload);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const done = page.getByText(/Uploaded as boxcn/);
    await done.waitFor({ timeout: 5000 });
    const token = (await done.innerText()).split(' ').pop();
    const tenant = await tenantToken();
    const back = await download(tenant, token);
    check('an upload comes back as its bytes', back.status === 200 && back.body.toString() === 'uploaded from the console', String(back.status));

    // Soft delete from the media page; the API then answers 404 1061007.
    await page.getByLabel('Filter').fill('notes.txt');
    await page.getByRole('button', { name: 'notes.txt' }).click();
    await page.getByRole('button', { name: 'Soft delete' }).click();
    await page.getByRole('button', { name: 'Undelete' }).waitFor({ timeout: 5000 });
    // By curl, as a tester would check it.
    const curl = require('child_process').spawnSync('curl', ['-sS', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${tenant}`,
      `${base}/open-apis/drive/v1/medias/boxcnDemoText/download`], { encoding: 'utf8' });
    const [goneBody, goneStatus] = curl.stdout.trim().split('\n');
    const code = goneStatus === '404' ? JSON.parse(goneBody).code : null;
    check('a soft delete answers 404 1061007 to curl', goneStatus === '404' && code === 1061007, curl.stdout);
    await page.screenshot({ path: path.join(shots, 'media-page.png'), fullPage: true });
    await page.getByRole('button', { name: 'Undelete' }).click();
    await page.getByRole('button', { name: 'Soft delete' }).waitFor({ timeout: 5000 });

    // Arm a fault, and watch the next download fail in the live log.
    await page.getByRole('button', { name: 'Faults' }).click();
    await page.getByLabel('A rule to add (JSON)').fill('{"endpoint": "download", "file_token": "boxcnDemoImage", "times": 1, "action": {"status": 500, "code": 1061001}}');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByRole('cell', { name: /boxcnDemoImage/ }).waitFor({ timeout: 5000 });
    await page.getByLabel('A rule to add (JSON)').fill('{"endpoint": "nope", "action": {"delay_ms": 1}}');
    await page.getByRole('button', { name: 'Add rule' }).click();
    const refusal = page.getByText(/\[1\]\.endpoint/);
    await refusal.waitFor({ timeout: 5000 });
    check('a bad rule is refused with its JSON path', true);
    await page.screenshot({ path: path.join(shots, 'faults.png'), fullPage: true });

    await page.getByRole('button', { name: 'Requests' }).click();
    await page.getByLabel('status').fill('500');
    const failedDownload = await download(tenant, 'boxcnDemoImage');
    check('the armed rule fails the download', failedDownload.status === 500, String(failedDownload.status));
    await page.locator('#requests tbody tr', { hasText: 'download' }).first().waitFor({ timeout: 5000 });
    const line = await page.locator('#requests tbody tr').first().innerText();
    check('the live log shows it', /1061001/.test(line) && /boxcnDemoImage/.test(line), line);
    await page.locator('#requests tbody tr button').first().click();
    check('a log id opens the request', /"status": 500/.test(await page.locator('#request-detail').innerText()));
    await page.screenshot({ path: path.join(shots, 'requests.png'), fullPage: true });

    // A chunked upload begun by the API shows with its blocks received.
    const prep = await fetch(`${base}/open-apis/drive/v1/medias/upload_prepare`, {
      method: 'POST', headers: { Authorization: `Bearer ${tenant}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ file_name: 'big.bin', parent_type: 'ccm_import_open', parent_node: '', size: 9 * 1024 * 1024 }),
    }).then((x) => x.json());
    const uploadId = prep.data && prep.data.upload_id;
    const form = new FormData();
    form.append('upload_id', uploadId); form.append('seq', '0'); form.append('size', String(4 * 1024 * 1024));
    form.append('file', new Blob([Buffer.alloc(4 * 1024 * 1024, 7)]), 'big.bin');
    const part = await fetch(`${base}/open-apis/drive/v1/medias/upload_part`, {
      method: 'POST', headers: { Authorization: `Bearer ${tenant}` }, body: form,
    }).then((x) => x.json());
    await page.getByRole('button', { name: 'Uploads' }).click();
    const session = page.getByRole('row', { name: new RegExp(uploadId) });
    await session.waitFor({ timeout: 5000 });
    check('an upload in progress shows its blocks received', part.code === 0 && /1 of 3/.test(await session.innerText()),
      `${JSON.stringify(part)} ${await session.innerText()}`);

    for (const v of ['Apps', 'Documents', 'Users', 'Seed and reset']) {
      await page.getByRole('button', { name: v }).click();
      await page.getByRole('heading').nth(1).waitFor();
    }
    await page.getByRole('button', { name: 'Apps' }).click();
    await page.getByRole('cell', { name: 'cli_demo' }).waitFor();
    const gauge = page.getByLabel(/^download: \d+ of 10000 today$/);
    check("an app's day against its limit shows as a gauge", (await gauge.count()) === 1
      && Number(await gauge.getAttribute('value')) >= 3, await page.locator('table').first().innerText());
    await page.screenshot({ path: path.join(shots, 'apps.png'), fullPage: true });

    // Narrow windows and the keyboard.
    await page.setViewportSize({ width: 400, height: 800 });
    await page.getByRole('button', { name: 'Media' }).click();
    await page.getByLabel('Filter').fill('');
    await page.locator('tr[data-token="boxcnDemoImage"]').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check('a narrow window scrolls no page sideways', overflow <= 1, String(overflow));
    await page.screenshot({ path: path.join(shots, 'narrow.png'), fullPage: true });
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
    check('controls take the keyboard focus', ['BUTTON', 'INPUT', 'A', 'SELECT'].includes(focused), focused);

    check('no script ran from any name', dialogs.length === 0, JSON.stringify(dialogs));
    check('the page broke no rule of its own policy', csp.length === 0, JSON.stringify(csp));
  } finally {
    await browser.close();
  }
  console.log(`console: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL console: ${e.stack || e}`);
  process.exit(1);
});
