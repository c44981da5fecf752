// The feishu-media console: the admin API in a browser. Every value is put in the page
// as text (never as markup), the admin token lives in this tab's sessionStorage only and
// goes out as an Authorization header, and nothing here runs inline (the page's CSP
// forbids it).
'use strict';

const TOKEN_KEY = 'feishu-media-admin-token';
const state = { view: 'media', timer: null, mediaAfter: [], mediaFilter: '', notice: '' };

/** An element with attributes (on* never) and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'onsubmit') e.addEventListener('submit', v);
    else if (k === 'oninput') e.addEventListener('input', v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** A time in the viewer's own time zone. */
function when(ms) {
  return new Date(ms).toLocaleString();
}

/** The download's ETag: the quoted first 32 hex digits of the blob digest, as served. */
function etag(m) {
  return `"${String(m.digest || '').slice(0, 32)}"`;
}

/** A value a tester copies: a button that copies its text. */
function copyable(text) {
  return el('button', {
    type: 'button', class: 'copy', title: 'Copy',
    onclick: () => navigator.clipboard && navigator.clipboard.writeText(String(text)),
  }, String(text));
}

class Unauthorized extends Error {}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`/_admin/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  if (r.status === 401) throw new Unauthorized();
  if (!json || json.code !== 0) {
    const why = json && json.error && json.error.troubleshooter;
    throw new Error(why || (json && json.msg) || `HTTP ${r.status}`);
  }
  return json.data;
}

function view() {
  return document.getElementById('view');
}

function show(...children) {
  view().replaceChildren(...children.filter((c) => c !== null && c !== undefined));
}

function failure(e) {
  if (e instanceof Unauthorized) {
    logout('The admin token is wrong, or the server no longer takes it.');
    return;
  }
  view().prepend(el('p', { role: 'alert', class: 'error' }, String(e.message || e)));
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  document.getElementById('nav').hidden = true;
  view().hidden = true;
  view().replaceChildren();
  document.getElementById('login').hidden = false;
  document.getElementById('login-error').textContent = message || '';
}

async function login(event) {
  event.preventDefault();
  const token = document.getElementById('token').value;
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await api('GET', '/apps?page_size=1');
  } catch (e) {
    logout(e instanceof Unauthorized ? 'The admin token is wrong.' : String(e.message || e));
    return;
  }
  document.getElementById('token').value = '';
  document.getElementById('login').hidden = true;
  document.getElementById('nav').hidden = false;
  view().hidden = false;
  go(state.view);
}

function go(name) {
  state.view = name;
  clearInterval(state.timer);
  for (const b of document.querySelectorAll('#nav [data-view]')) {
    if (b.dataset.view === name) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  const views = { media, uploads, requests, faults, apps, documents, users, seed };
  (views[name] || media)().catch(failure);
}

// --- media ----------------------------------------------------------------------------

async function media(after) {
  const q = after ? `&page_token=${encodeURIComponent(after)}` : '';
  const page = await api('GET', `/media?page_size=50${q}`);
  const filter = el('input', {
    id: 'media-filter', type: 'search', value: state.mediaFilter,
    oninput: (e) => { state.mediaFilter = e.target.value; draw(); },
  });
  const body = el('tbody');
  const draw = () => {
    const f = state.mediaFilter.toLowerCase();
    body.replaceChildren(...page.items
      .filter((m) => !f || `${m.file_name} ${m.file_token} ${m.document} ${m.mime_type}`.toLowerCase().includes(f))
      .map(mediaRow));
  };
  draw();
  const more = page.has_more
    ? el('button', { type: 'button', onclick: () => { state.mediaAfter.push(after || ''); media(page.page_token).catch(failure); } }, 'Next page')
    : null;
  const back = after
    ? el('button', { type: 'button', onclick: () => media(state.mediaAfter.pop() || undefined).catch(failure) }, 'Previous page')
    : null;
  const notice = state.notice ? el('p', { role: 'status' }, state.notice) : null;
  state.notice = '';
  show(
    el('h2', {}, 'Media'),
    notice,
    el('div', { class: 'toolbar' }, el('label', { for: 'media-filter' }, 'Filter'), filter, back, more),
    await uploadForm(),
    el('div', { class: 'table-wrap' }, el('table', {},
      el('thead', {}, el('tr', {}, ['', 'Name', 'Size', 'Type', 'Document', 'ETag', 'Deleted', 'Token'].map((h) => el('th', {}, h)))),
      body)),
  );
}

function mediaRow(m) {
  const thumb = el('td');
  if (String(m.mime_type).startsWith('image/') && !m.deleted) {
    link(m.file_token).then((url) => thumb.append(el('img', { class: 'thumb', src: url, alt: `preview of ${m.file_name}` })))
      .catch(() => {});
  }
  return el('tr', { 'data-token': m.file_token },
    thumb,
    el('td', {}, el('button', { type: 'button', class: 'copy', onclick: () => mediaPage(m.file_token).catch(failure) }, m.file_name)),
    el('td', {}, size(m.size)),
    el('td', {}, m.mime_type),
    el('td', {}, m.document ? copyable(m.document) : el('span', { class: 'muted' }, '(none)')),
    el('td', {}, copyable(etag(m))),
    el('td', {}, m.deleted ? 'yes' : 'no'),
    el('td', {}, copyable(m.file_token)));
}

/** A file token as Feishu's look: `boxcn` and random letters and digits. */
function newToken() {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(22));
  return `boxcn${Array.from(bytes, (b) => abc[b % abc.length]).join('')}`;
}

/** The bytes of a File, base64 (the admin API takes media inline). */
async function base64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Upload a file into a document: a media of the admin API, bytes inline. */
async function uploadForm() {
  const docs = (await listing('documents')).filter((d) => d.doc_type !== 'file');
  const kinds = { docx: ['docx_image', 'docx_file'], doc: ['doc_image', 'doc_file'], sheet: ['sheet_image', 'sheet_file'], bitable: [] };
  const doc = el('select', { id: 'upload-document' }, docs.filter((d) => kinds[d.doc_type] && kinds[d.doc_type].length)
    .map((d) => el('option', { value: d.token }, `${d.token} (${d.doc_type})`)));
  const file = el('input', { id: 'upload-file', type: 'file', required: true });
  const out = el('span', { role: 'status' });
  return el('form', { class: 'toolbar', onsubmit: async (e) => {
    e.preventDefault();
    const f = file.files[0];
    const d = docs.find((x) => x.token === doc.value);
    if (!f || !d) return;
    const image = f.type.startsWith('image/');
    const spec = {
      file_token: newToken(), document: d.token, parent_type: kinds[d.doc_type][image ? 0 : 1],
      file_name: f.name, content_base64: await base64(f),
    };
    if (f.type) spec.mime_type = f.type;
    try {
      await api('POST', '/media', spec);
      state.notice = `Uploaded as ${spec.file_token}`;
      state.mediaFilter = spec.file_token;
      await media();
    } catch (err) { if (err instanceof Unauthorized) throw err; out.className = 'error'; out.textContent = err.message; }
  } }, el('label', { for: 'upload-file' }, 'Upload a file'), file,
  el('label', { for: 'upload-document' }, 'into'), doc, el('button', { type: 'submit' }, 'Upload'), out);
}

/** A temporary link to a media (a signed code; the server's usual lifetime). */
async function link(token) {
  const data = await api('POST', `/media/${encodeURIComponent(token)}/link`);
  return data.url;
}

async function mediaPage(token) {
  const m = await api('GET', `/media/${encodeURIComponent(token)}`);
  const actions = el('div', { class: 'toolbar' });
  const preview = el('div');
  if (!m.deleted) {
    const url = await link(token);
    if (String(m.mime_type).startsWith('image/')) preview.append(el('img', { class: 'preview', src: url, alt: `preview of ${m.file_name}` }));
    actions.append(el('a', { href: url, download: m.file_name }, 'Download'),
      el('button', { type: 'button', onclick: () => navigator.clipboard && navigator.clipboard.writeText(url) }, 'Copy temporary link'));
  }
  const toggle = m.deleted ? 'undelete' : 'delete';
  actions.append(el('button', {
    type: 'button',
    onclick: async () => { await api('POST', `/media/${encodeURIComponent(token)}/${toggle}`).catch(failure); mediaPage(token).catch(failure); },
  }, m.deleted ? 'Undelete' : 'Soft delete'),
  el('button', { type: 'button', onclick: () => go('media') }, 'Back to media'));
  show(
    el('h2', {}, m.file_name),
    actions,
    el('dl', {}, ...[
      ['Token', copyable(m.file_token)], ['Document', m.document || '(none)'], ['Parent type', m.parent_type],
      ['Size', `${size(m.size)} (${m.size} bytes)`], ['Type', m.mime_type], ['ETag', copyable(etag(m))],
      ['Deleted', m.deleted ? 'yes' : 'no'], ['Created', when(m.created_at_ms)], ['Modified', when(m.modified_at_ms)],
    ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    preview,
  );
}

// --- uploads in progress -----------------------------------------------------------------

async function uploads() {
  const list = await listing('uploads');
  const now = Date.now();
  show(el('h2', {}, 'Uploads in progress'),
    el('p', { class: 'note' }, 'Chunked uploads between upload_prepare and upload_finish; finished ones stay until they expire.'),
    table(['Upload id', 'File', 'Into', 'Blocks received', 'Bytes', 'By', 'Expires', 'State'], list.map((u) => [
      copyable(u.upload_id), u.file_name, u.document ? `${u.document} (${u.parent_type})` : u.parent_type,
      `${u.blocks_received} of ${u.block_num}`, `${size(u.bytes_received)} of ${size(u.size)}`, u.principal,
      when(u.expires_at_ms),
      u.file_token ? `finished: ${u.file_token}` : (u.expires_at_ms < now ? 'expired' : 'open')])));
}

// --- requests -------------------------------------------------------------------------

async function requests() {
  const filters = { app: '', endpoint: '', status: '', code: '' };
  const body = el('tbody');
  const detail = el('pre', { id: 'request-detail', hidden: true });
  const inputs = Object.keys(filters).map((k) => [
    el('label', { for: `f-${k}` }, k),
    el('input', { id: `f-${k}`, size: 10, oninput: (e) => { filters[k] = e.target.value.trim(); draw(); } }),
  ]);
  let latest = [];
  const keep = (r) => (!filters.app || (r.app_id || '').includes(filters.app))
    && (!filters.endpoint || r.endpoint.includes(filters.endpoint))
    && (!filters.status || String(r.status) === filters.status)
    && (!filters.code || String(r.code) === filters.code);
  const draw = () => body.replaceChildren(...latest.filter(keep).map((r) => el('tr', {},
    el('td', {}, when(r.time_ms)), el('td', {}, r.method), el('td', {}, r.path), el('td', {}, r.endpoint),
    el('td', {}, r.app_id || ''), el('td', {}, String(r.status)), el('td', {}, String(r.code)),
    el('td', {}, size(r.bytes)), el('td', {}, `${r.duration_ms.toFixed(1)} ms`),
    el('td', {}, el('button', { type: 'button', class: 'copy', onclick: () => { detail.hidden = false; detail.textContent = JSON.stringify(r, null, 2); } }, r.log_id)))));
  const poll = async () => { latest = await api('GET', '/requests?limit=200'); draw(); };
  await poll();
  show(
    el('h2', {}, 'Requests'),
    el('p', { class: 'note' }, 'Live: the newest first, refreshed every second. A log id opens the request.'),
    el('div', { class: 'toolbar' }, inputs),
    el('div', { class: 'table-wrap' }, el('table', { id: 'requests' },
      el('thead', {}, el('tr', {}, ['Time', 'Method', 'Path', 'Endpoint', 'App', 'Status', 'Code', 'Bytes', 'Took', 'Log id'].map((h) => el('th', {}, h)))),
      body)),
    detail,
  );
  state.timer = setInterval(() => poll().catch(failure), 1000);
}

// --- faults ---------------------------------------------------------------------------

async function faults() {
  const rules = await api('GET', '/faults');
  const strip = (r) => { const { matched, fired, ...rule } = r; return rule; };
  const error = el('p', { role: 'alert', class: 'error' });
  const input = el('textarea', { id: 'fault-rule', spellcheck: 'false' },
    '{"endpoint": "download", "times": 1, "action": {"status": 500, "code": 1061001}}');
  const save = async (list) => {
    try { await api('PUT', '/faults', list); faults().catch(failure); } catch (e) { if (e instanceof Unauthorized) throw e; error.textContent = e.message; }
  };
  show(
    el('h2', {}, 'Fault rules'),
    el('div', { class: 'table-wrap' }, el('table', {},
      el('thead', {}, el('tr', {}, ['Rule', 'Matched', 'Fired', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, rules.map((r, i) => el('tr', {},
        el('td', {}, el('code', {}, JSON.stringify(strip(r)))), el('td', {}, String(r.matched)), el('td', {}, String(r.fired)),
        el('td', {}, el('button', { type: 'button', onclick: () => save(rules.filter((_, j) => j !== i).map(strip)) }, 'Remove'))))))),
    el('form', { onsubmit: (e) => { e.preventDefault(); let rule; try { rule = JSON.parse(input.value); } catch (err) { error.textContent = `not JSON: ${err.message}`; return; } save([...rules.map(strip), rule]); } },
      el('label', { for: 'fault-rule' }, 'A rule to add (JSON)'), input, el('button', { type: 'submit' }, 'Add rule'), error),
  );
}

// --- apps, documents, users -------------------------------------------------------------

async function listing(kind) {
  const items = [];
  let token = '';
  for (let i = 0; i < 20; i += 1) {
    const page = await api('GET', `/${kind}?page_size=1000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
    items.push(...page.items);
    if (!page.has_more) break;
    token = page.page_token;
  }
  return items;
}

function table(heads, rows) {
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, heads.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c)))))));
}

async function apps() {
  const [list, used] = await Promise.all([listing('apps'), api('GET', '/usage')]);
  const gauges = (a) => used.filter((u) => u.app_id === a.app_id).map((u) => el('div', {},
    el('label', { for: `g-${a.app_id}-${u.endpoint}` }, `${u.endpoint}: ${u.today} of ${u.per_day} today`),
    el('meter', { id: `g-${a.app_id}-${u.endpoint}`, class: 'gauge', min: 0, max: u.per_day, value: u.today,
      high: Math.floor(u.per_day * 0.9) }, `${u.today}/${u.per_day}`)));
  show(el('h2', {}, 'Apps'), table(['App id', 'Tenant', 'Scopes', 'Rate limit', 'Today', 'Redirect URIs'], list.map((a) => [
    copyable(a.app_id), a.tenant_key, a.scopes.join(', '),
    a.rate_limit ? `${a.rate_limit.per_second}/s, ${a.rate_limit.per_day}/day per endpoint` : 'none',
    gauges(a).length ? gauges(a) : el('span', { class: 'muted' }, 'no request today'),
    (a.redirect_uris || []).join(', ')])));
}

async function documents() {
  const list = await listing('documents');
  show(el('h2', {}, 'Documents'), table(['Token', 'Type', 'Tenant', 'Owner', 'Members'], list.map((d) => [
    copyable(d.token), d.doc_type, d.tenant_key, d.owner || '',
    (d.members || []).map((m) => `${m.principal} (${m.role})`).join(', ')])));
}

async function users() {
  const [list, tokens] = await Promise.all([listing('users'), listing('user_tokens')]);
  show(el('h2', {}, 'Users'), table(['User id', 'Tenant', 'Name'], list.map((u) => [copyable(u.user_id), u.tenant_key, u.name || ''])),
    el('h2', {}, 'User tokens (by hash)'), table(['Hash', 'App', 'User', 'Scopes', 'Expires'], tokens.map((t) => [
      copyable(t.hash), t.app_id, t.user_id || '', (t.scopes || []).join(', '), when(t.expires_at_ms)])));
}

// --- seed and reset --------------------------------------------------------------------

async function seed() {
  const text = el('textarea', { id: 'manifest', spellcheck: 'false' }, '{"media": []}');
  const file = el('input', { id: 'manifest-file', type: 'file', accept: 'application/json,.json' });
  file.addEventListener('change', async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  const out = el('p', { role: 'status' });
  show(
    el('h2', {}, 'Seed'),
    el('form', { onsubmit: async (e) => {
      e.preventDefault();
      let manifest;
      try { manifest = JSON.parse(text.value); } catch (err) { out.className = 'error'; out.textContent = `not JSON: ${err.message}`; return; }
      try { const r = await api('POST', '/seed', manifest); out.className = ''; out.textContent = `Applied: ${JSON.stringify(r)}`; } catch (err) {
        if (err instanceof Unauthorized) throw err;
        out.className = 'error'; out.textContent = err.message;
      }
    } }, el('label', { for: 'manifest' }, 'Manifest (JSON)'), text, el('label', { for: 'manifest-file' }, 'or a file'), file,
    el('button', { type: 'submit' }, 'Apply manifest'), out),
    el('h2', {}, 'Reset'),
    el('p', {}, 'Wipes every object, blob, counter, fault rule and logged request, then loads the start-up manifests again.'),
    el('button', { type: 'button', onclick: async () => {
      if (!window.confirm('Reset the whole world?')) return;
      const r = await api('POST', '/reset').catch(failure);
      out.textContent = r ? `Reset: ${JSON.stringify(r)}` : '';
    } }, 'Reset…'),
  );
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('login-form').addEventListener('submit', login);
  document.getElementById('logout').addEventListener('click', () => logout(''));
  for (const b of document.querySelectorAll('#nav [data-view]')) b.addEventListener('click', () => go(b.dataset.view));
  if (sessionStorage.getItem(TOKEN_KEY)) {
    api('GET', '/apps?page_size=1').then(() => {
      document.getElementById('login').hidden = true;
      document.getElementById('nav').hidden = false;
      view().hidden = false;
      go(state.view);
    }).catch(() => logout(''));
  }
});
