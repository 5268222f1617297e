/* Concierge web chat: <script src="https://cx.example.com/widget.js" data-channel="ch_…" async></script>
 * Optional: data-user-id + data-user-hash (hex HMAC-SHA256 of the user id), data-name, data-email,
 * data-locale, data-title. Message text is untrusted: it only goes in through textContent. */
(() => {
'use strict';
const script = document.currentScript || document.querySelector('script[data-channel][src*="widget.js"]');
if (!script || window.__conciergeChat) return;
const ds = script.dataset;
const channel = ds.channel;
const warn = (...a) => console.warn('[concierge]', ...a);
if (!channel) return warn('widget.js needs data-channel');
window.__conciergeChat = 1;

const MAX = 4000;
const api = new URL(script.src, location.href).origin + '/chat/' + encodeURIComponent(channel);
// may be blocked: then this page view only
const store = (kind, k, v) => {
  try {
    if (v === undefined) return window[kind].getItem(k);
    window[kind].setItem(k, v);
  } catch (e) { return null; }
};
const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
const key = (k) => 'concierge.' + k + '.' + channel;

let visitor = store('localStorage', key('visitor'));
if (!/^[\w-]{16,64}$/.test(visitor || '')) store('localStorage', key('visitor'), visitor = hex(16));

let ident = null;
if (ds.userId && ds.userHash) ident = { user_id: ds.userId, user_hash: ds.userHash };
else if (ds.userId || ds.userHash) warn('data-user-id needs data-user-hash; chatting anonymously');

const locale = ds.locale || navigator.language || 'en';
const T = /^pt/i.test(locale)
  ? ['Fale com a gente', 'Escreva sua mensagem…', 'Enviar', 'enviando…', 'Não foi possível enviar. Tentando de novo…', 'Não foi possível enviar.', 'Atendente', 'Fechar']
  : ['Chat with us', 'Type your message…', 'Send', 'sending…', 'Could not send. Retrying…', 'Could not send.', 'Agent', 'Close'];
const [, PLACEHOLDER, SEND, SENDING, RETRYING, FAILED, AGENT, CLOSE] = T;
const title = ds.title || T[0];

// `$` is the root, `.-x` the class concierge-x.
const CSS = `
$ {position:fixed;bottom:20px;right:20px;z-index:2147483000;display:flex;flex-direction:column;align-items:flex-end;font:14px/1.45 system-ui,sans-serif;color:#1f2328;text-align:left;--concierge-accent:#1f6feb}
$.-left{right:auto;left:20px;align-items:flex-start}
$ *{box-sizing:border-box;margin:0;padding:0;border:0;font:inherit;letter-spacing:normal;text-transform:none}
$ [hidden]{display:none!important}
$ button{cursor:pointer;font-weight:600;color:#fff;background:var(--concierge-accent)}
$ button:focus-visible{outline:2px solid var(--concierge-accent);outline-offset:2px}
$ .-toggle,$ .-close{display:flex;align-items:center;justify-content:center;border-radius:50%}
$ .-toggle{position:relative;width:56px;height:56px;box-shadow:0 4px 14px rgba(0,0,0,.25)}
$ svg{width:26px;height:26px;fill:currentColor}
$ [aria-expanded=true] .-i-chat,$ [aria-expanded=false] .-i-close{display:none}
$ .-badge{position:absolute;top:-3px;right:-3px;min-width:20px;padding:0 5px;border-radius:10px;background:#d1242f;font-size:12px;line-height:20px}
$ .-panel{width:370px;height:540px;max-width:calc(100vw - 40px);max-height:calc(100vh - 116px);margin-bottom:12px;background:#fff;border-radius:16px;box-shadow:0 12px 40px rgba(0,0,0,.22);display:flex;flex-direction:column;overflow:hidden}
$ .-header{display:flex;align-items:center;justify-content:space-between;gap:8px;padding:14px 12px 14px 18px;background:var(--concierge-accent);color:#fff;font-size:16px;font-weight:600}
$ .-close{width:32px;height:32px;background:none}
$ .-close svg{width:20px;height:20px}
$ .-messages{flex:1;overflow-y:auto;padding:16px 12px;display:flex;flex-direction:column;gap:8px;background:#f5f6f8}
$ .-msg{max-width:82%;padding:8px 12px;border-radius:16px;overflow-wrap:anywhere;background:#fff;border:1px solid #e1e4e8;align-self:flex-start;border-bottom-left-radius:4px}
$ .-msg[data-direction=incoming]{align-self:flex-end;background:var(--concierge-accent);border-color:transparent;color:#fff;border-radius:16px 16px 4px 16px}
$ .-msg.-system{align-self:center;background:none;border:0;color:#6a737d;font-size:12px;text-align:center}
$ .-author{font-size:12px;font-weight:600;color:#57606a;margin-bottom:2px}
$ .-text{white-space:pre-wrap}
$ .-meta{font-size:11px;opacity:.75;margin-top:2px;text-align:end}
$ .-msg.-error{background:#fff5f5;color:#1f2328;border:1px solid #f0b4b4}
$ .-error .-meta{color:#b42318;opacity:1}
$ .-composer{display:flex;align-items:flex-end;gap:8px;padding:10px;border-top:1px solid #e1e4e8;background:#fff}
$ textarea{flex:1;height:40px;max-height:120px;padding:9px 12px;border:1px solid #d0d7de;border-radius:12px;background:#fff;color:inherit;resize:none;outline:0;line-height:20px}
$ textarea:focus{border-color:var(--concierge-accent)}
$ .-send{height:40px;padding:0 16px;border-radius:12px}
@media (max-width:480px){$.-open{inset:0}$.-open .-toggle{display:none}$ .-panel{width:100%;height:100%;max-width:none;max-height:none;margin:0;border-radius:0}}`.replace(/\$/g, '#concierge-chat').replace(/\.-/g, '.concierge-');

// el(tag, {c: class concierge-c, text, attr: value}, children)
const el = (tag, attrs, kids) => {
  const e = document.createElement(tag);
  for (const k in attrs) {
    if (k === 'text') e.textContent = attrs[k];
    else e.setAttribute(k === 'c' ? 'class' : k, k === 'c' ? 'concierge-' + attrs[k] : attrs[k]);
  }
  for (const c of kids || []) e.appendChild(c);
  return e;
};
const icon = (c, d) => {
  const ns = 'http://www.w3.org/2000/svg';
  const s = document.createElementNS(ns, 'svg');
  const p = s.appendChild(document.createElementNS(ns, 'path'));
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('class', 'concierge-' + c);
  p.setAttribute('d', d);
  return s;
};
const X = 'M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z';
const time = (iso) => {
  const d = iso ? new Date(iso) : new Date();
  try { return isNaN(d) ? '' : d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' }); } catch (e) { return ''; }
};

let root, panel, list, input, toggle, badge;
let isOpen = false, started = false, unread = 0, lastId = 0;
const seen = new Set(); // server ids shown
const pending = new Map(); // client_id -> a message this page sent
const queue = []; // messages waiting to be sent, in order

function build() {
  document.head.appendChild(el('style', { text: CSS }));
  const close = el('button', { type: 'button', c: 'close', 'aria-label': CLOSE }, [icon('i-x', X)]);
  const send = el('button', { type: 'button', id: 'concierge-chat-send', c: 'send', text: SEND });
  list = el('div', { id: 'concierge-chat-messages', c: 'messages', role: 'log', 'aria-live': 'polite' });
  input = el('textarea', { id: 'concierge-chat-input', dir: 'auto', rows: 1, maxlength: MAX, placeholder: PLACEHOLDER, 'aria-label': PLACEHOLDER });
  panel = el('div', { id: 'concierge-chat-panel', c: 'panel', role: 'dialog', 'aria-label': title, hidden: '' }, [
    el('div', { c: 'header' }, [el('span', { text: title }), close]),
    list,
    el('div', { c: 'composer' }, [input, send]),
  ]);
  badge = el('span', { c: 'badge', hidden: '' });
  toggle = el('button', { type: 'button', id: 'concierge-chat-toggle', c: 'toggle', 'aria-label': title, 'aria-controls': panel.id, 'aria-expanded': false }, [
    icon('i-chat', 'M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM6 9h12v2H6V9zm8 5H6v-2h8v2zm4-6H6V6h12v2z'),
    icon('i-close', X), badge,
  ]);
  // pt/en strings: a left-to-right frame; each bubble finds its own direction
  root = el('div', { id: 'concierge-chat', dir: 'ltr', c: document.dir === 'rtl' ? 'left' : 'right' }, [panel, toggle]);
  document.body.appendChild(root);

  toggle.onclick = () => setOpen(!isOpen, true);
  close.onclick = () => setOpen(false, true);
  send.onclick = () => { submit(); input.focus(); };
  root.addEventListener('keydown', (e) => { if (e.key === 'Escape' && isOpen) setOpen(false, true); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
  });
  input.addEventListener('input', grow);
  window.addEventListener('online', () => { if (!es) connectSoon(0); pumpSoon(0); });

  if (store('sessionStorage', key('open'))) setOpen(true, false);
  else if (store('localStorage', key('active'))) start(); // has chatted: listen for replies
}

function grow() {
  input.style.height = 'auto';
  input.style.height = Math.min(input.scrollHeight + 2, 120) + 'px';
}

function setOpen(open, focus) {
  isOpen = open;
  panel.hidden = !open;
  toggle.setAttribute('aria-expanded', open);
  root.classList.toggle('concierge-open', open);
  store('sessionStorage', key('open'), open ? '1' : '');
  if (open) {
    unread = 0;
    showBadge();
    start();
    list.scrollTop = list.scrollHeight;
    if (focus) input.focus();
  } else if (focus) toggle.focus();
}

function showBadge() {
  badge.textContent = unread > 9 ? '9+' : unread;
  badge.hidden = !unread;
}

function setMeta(b, text, error) {
  b.lastChild.textContent = text;
  b.classList.toggle('concierge-error', !!error);
}

// A server message (live: arrived just now), or one typed here (live === null)
function render(m, live) {
  const id = m.id == null ? null : String(m.id);
  if (id !== null) {
    if (seen.has(id)) return;
    seen.add(id);
    if (+id > lastId) lastId = +id;
  }
  const own = m.client_id && pending.get(m.client_id);
  if (own && id !== null) { // ours, back from the server
    own.done = true;
    own.b.setAttribute('data-id', id);
    setMeta(own.b, time(m.created_at));
    return pumpSoon(0); // skip any wait to resend it
  }
  const dir = m.direction === 'outgoing' ? 'outgoing' : 'incoming';
  const b = el('div', { c: 'msg', 'data-direction': dir, dir: 'auto' });
  if (id !== null) b.setAttribute('data-id', id);
  if (m.author === 'system') b.classList.add('concierge-system');
  // children with their own dir do not sway the bubble's dir="auto"
  else if (dir === 'outgoing') b.appendChild(el('div', { c: 'author', dir: 'auto', text: m.author_name || AGENT }));
  const text = el('div', { c: 'text', text: m.text || '' });
  const f = m.file;
  if (f && typeof f.url === 'string' && f.url.startsWith('/media/')) {
    // A file the brand sent: a download link on our own origin, never shown inline.
    const a = el('a', { href: new URL(f.url, api).href, target: '_blank', rel: 'noopener noreferrer', download: '', text: '📎 ' + String(f.name || '') });
    text.appendChild(a);
  }
  b.appendChild(text);
  b.appendChild(el('div', { c: 'meta', dir: 'auto', text: live === null ? '' : time(m.created_at) }));
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  list.appendChild(b);
  if (atEnd || live === null) list.scrollTop = list.scrollHeight;
  if (live && dir === 'outgoing' && !isOpen) { unread++; showBadge(); }
  return b;
}

function query(after) {
  const p = new URLSearchParams({ visitor });
  if (ident) for (const k in ident) p.set(k, ident[k]);
  if (after != null) p.set('after', after);
  return p;
}

async function failure(res) {
  const body = (await res.json().catch(() => 0)) || {};
  return Object.assign(new Error(body.message || 'HTTP ' + res.status), { status: res.status, code: body.code });
}

// No status: the network failed.
const retryable = (err) => !err.status || err.status >= 500 || err.status === 408 || err.status === 429;

// A wrong user_hash: keep chatting, as an anonymous visitor.
function dropIdentity(err) {
  if (!ident || err.status !== 401 || err.code !== 'invalid_signature') return false;
  warn('data-user-hash rejected (' + err.message + '); continuing anonymously');
  ident = null;
  return true;
}

// ---- history and live stream
let es = null, esTimer = 0, esDelay = 1000, firstLoad = true, gen = 0;

function start() {
  if (!started) { started = true; connect(); }
}

function connectSoon(ms) {
  if (!started) return;
  clearTimeout(esTimer);
  esTimer = setTimeout(connect, ms);
}

function reconnect() {
  connectSoon(esDelay);
  esDelay = Math.min(esDelay * 2, 30000);
}

// Fetch what is missing (and the status EventSource cannot tell), then listen from there.
async function connect() {
  clearTimeout(esTimer);
  if (es) { es.close(); es = null; }
  const mine = ++gen; // the latest connect() wins
  try {
    const res = await fetch(api + '/messages?' + query(lastId || null), { credentials: 'omit' });
    if (!res.ok) throw await failure(res);
    const body = await res.json();
    if (mine !== gen) return;
    for (const m of body.messages || []) render(m, !firstLoad);
    firstLoad = false;
  } catch (err) {
    if (mine !== gen) return;
    if (dropIdentity(err)) return connect();
    if (!retryable(err)) return warn('web chat unavailable:', err.code, err.message);
    return reconnect();
  }
  const src = es = new EventSource(api + '/events?' + query(lastId));
  src.onopen = () => { esDelay = 1000; };
  src.addEventListener('message', (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch (x) { return; }
    if (m) render(m, true);
  });
  // EventSource would come back with its old URL: reopen it with the newest `after` instead.
  src.onerror = () => {
    if (es !== src) return;
    src.close();
    es = null;
    reconnect();
  };
}

// ---- sending: in order, a failed send retried with the same client_id (the server keeps one)
let sending = false, sendTimer = 0, sendDelay = 1000;

function submit() {
  const text = input.value.trim().slice(0, MAX);
  if (!text) return;
  input.value = '';
  grow();
  const item = { client_id: hex(16), text, done: false };
  item.b = render({ client_id: item.client_id, direction: 'incoming', author: 'customer', text }, null);
  setMeta(item.b, SENDING);
  pending.set(item.client_id, item);
  queue.push(item);
  store('localStorage', key('active'), '1');
  start();
  pumpSoon(0);
}

function pumpSoon(ms) {
  clearTimeout(sendTimer);
  sendTimer = setTimeout(pump, ms);
}

async function pump() {
  if (sending) return;
  while (queue.length && queue[0].done) queue.shift();
  const item = queue[0];
  if (!item) return;
  sending = true;
  let err = null;
  try {
    const body = Object.assign({ visitor, client_id: item.client_id, text: item.text, locale }, ident);
    for (const k of ['name', 'email']) if (ds[k]) body[k] = ds[k];
    const res = await fetch(api + '/messages', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit',
    });
    if (!res.ok) err = await failure(res);
  } catch (e) {
    err = e;
  }
  sending = false;
  if (err && !item.done) {
    if (dropIdentity(err)) { connectSoon(0); return pump(); }
    if (retryable(err)) {
      setMeta(item.b, RETRYING, true);
      pumpSoon(sendDelay);
      sendDelay = Math.min(sendDelay * 2, 30000);
      return;
    }
    warn('message not sent:', err.code, err.message);
    setMeta(item.b, FAILED, true);
    pending.delete(item.client_id);
  } else if (!item.done) {
    setMeta(item.b, ''); // accepted: the stream brings its id and time
  }
  sendDelay = 1000;
  queue.shift();
  pump();
}

if (document.body) build();
else document.addEventListener('DOMContentLoaded', build);
})();
