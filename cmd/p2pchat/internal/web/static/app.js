// p2pchat's browser UI. It drives the node's /v1 API (docs/API.md) with
// the session's CSRF token and follows its event stream. Text from the
// network is only ever put in the page as text (textContent), never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);

// The session's token: from the login's address fragment, kept in this
// origin's storage (origins have ports, cookies do not: a server on another
// local port gets the cookie, never this).
const tokenKey = 'p2pchat-token';
const token = () => localStorage.getItem(tokenKey) || '';

const state = {
  self: null, // the status object
  rooms: new Map(), // name → room view
  current: '',
  lastEvent: null, // event_id of the last event handled
  peers: new Map(), // peer_id → {verified, mismatch, changed}
  composing: null, // {kind: 'reply' | 'edit', room, id, label}: what Enter sends
};

// The reactions offered by a message's React button (any other can be
// typed: /react is not needed, the last button asks).
const palette = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

// el makes an element with a class and children (strings become text).
function el(tag, cls, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: { 'X-P2pchat-Csrf': token() }, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401) signedOut();
    const e = data.error || {};
    throw new APIError(res.status, e.code || 'http_' + res.status, e.message || res.statusText);
  }
  return data;
}

const enc = encodeURIComponent;

// ---- connection state and alerts

function setConn(text) {
  $('conn').textContent = text;
  $('conn').classList.toggle('bad', text !== '');
}

let alertTimer = 0;
function showAlert(text) {
  const a = $('alert');
  a.textContent = text;
  a.hidden = false;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => { a.hidden = true; }, 8000);
}

function signedOut() {
  localStorage.removeItem(tokenKey);
  $('app').hidden = true;
  $('signin').hidden = false;
}

// ---- rooms

function roomView(name) {
  let r = state.rooms.get(name);
  if (!r) {
    r = { name, info: null, msgs: new Map(), unread: 0, mention: false, n: 50, system: [], sending: [] };
    state.rooms.set(name, r);
  }
  return r;
}

function shortName(m) {
  return m.nick + '#' + m.fp;
}

function renderRooms() {
  const ul = $('rooms');
  ul.replaceChildren();
  const names = [...state.rooms.keys()].sort();
  names.forEach((name, i) => {
    const r = state.rooms.get(name);
    const b = el('button', 'room-button', el('span', 'room-title', name));
    b.type = 'button';
    b.dataset.room = name;
    if (i < 9) b.title = 'Alt-' + (i + 1);
    if (name === state.current) b.setAttribute('aria-current', 'page');
    let label = name;
    if (r.info && !r.info.ready) {
      b.append(el('span', 'badge wait', 'joining'));
      label += ', joining';
    }
    if (r.unread > 0) {
      b.append(el('span', r.mention ? 'badge mention' : 'badge', String(r.unread)));
      label += ', ' + r.unread + ' unread' + (r.mention ? ', you were mentioned' : '');
    }
    b.setAttribute('aria-label', label);
    b.addEventListener('click', () => selectRoom(name));
    ul.append(el('li', null, b));
  });
  const total = [...state.rooms.values()].reduce((s, r) => s + r.unread, 0);
  document.title = (total ? '(' + total + ') ' : '') + 'p2pchat';
}

async function refreshRoom(name) {
  try {
    const info = await api('GET', '/v1/rooms/' + enc(name));
    const r = roomView(name);
    r.info = info;
    for (const m of info.member_list) notePeer(m);
    if (name === state.current) renderHead();
    renderRooms();
  } catch (e) {
    if (e.code === 'unknown_room') {
      state.rooms.delete(name);
      if (state.current === name) selectRoom([...state.rooms.keys()].sort()[0] || '');
      renderRooms();
    }
  }
}

const refreshPending = new Map();
function refreshSoon(name) {
  if (refreshPending.has(name)) return;
  refreshPending.set(name, setTimeout(() => { refreshPending.delete(name); refreshRoom(name); }, 150));
}

function notePeer(m) {
  const p = state.peers.get(m.peer_id) || {};
  p.verified = m.verified;
  p.mismatch = m.mismatch;
  state.peers.set(m.peer_id, p);
}

async function loadHistory(name) {
  const r = roomView(name);
  try {
    const h = await api('GET', '/v1/rooms/' + enc(name) + '/messages?n=' + r.n);
    for (const m of h.messages) r.msgs.set(m.id, Object.assign(r.msgs.get(m.id) || {}, m));
    r.hasOlder = h.messages.length >= r.n;
    if (name === state.current) renderMessages();
  } catch (e) {
    showAlert('History of ' + name + ': ' + e.message);
  }
}

async function selectRoom(name) {
  state.current = name;
  // The address remembers the room, for a reload or a bookmark.
  history.replaceState(null, '', name ? '#' + enc(name) : location.pathname);
  const r = name ? roomView(name) : null;
  if (r) { r.unread = 0; r.mention = false; }
  closeResults();
  renderRooms();
  renderHead();
  renderMessages();
  document.body.classList.remove('show-rooms');
  $('rooms-toggle').setAttribute('aria-expanded', 'false');
  $('input').disabled = !name;
  $('send').disabled = !name;
  if (name) {
    await Promise.all([refreshRoom(name), loadHistory(name)]);
    $('input').focus();
  }
}

function renderHead() {
  const r = state.current ? state.rooms.get(state.current) : null;
  $('room-name').textContent = r ? r.name : 'No room';
  $('leave-button').hidden = !r;
  const info = r && r.info;
  let text = '';
  if (info) {
    text = info.kind === 'passphrase' ? 'passphrase room · ' : 'open room · ';
    text += info.ready ? (info.members + (info.members === 1 ? ' other member' : ' other members')) : 'waiting for the room key…';
    text += ' · end-to-end encrypted';
  } else if (!r) {
    text = 'Join a room to start.';
  }
  $('room-info').textContent = text;
  renderMembers();
}

function renderMembers() {
  const ul = $('members');
  ul.replaceChildren();
  const r = state.current ? state.rooms.get(state.current) : null;
  if (!r || !r.info) return;
  if (state.self) {
    ul.append(el('li', 'member self', el('span', 'who', state.self.nick + '#' + state.self.fp), el('span', 'mark', ' (you)')));
  }
  if (r.info.member_list.length === 0) {
    ul.append(el('li', 'member none', r.info.ready ? 'Nobody else yet.' : 'Looking for members…'));
  }
  for (const m of r.info.member_list) {
    const b = el('button', 'member-button', el('span', 'who', shortName(m)), markOf(m.peer_id));
    if (m.away) {
      const a = el('span', 'away', ' (away)');
      a.title = m.away;
      b.append(a);
    }
    b.type = 'button';
    b.setAttribute('aria-label', shortName(m) + ', ' + verifyWord(m.peer_id) + (m.away ? ', away: ' + m.away : '') + '; verify');
    b.addEventListener('click', () => openVerify(m));
    ul.append(el('li', 'member', b));
  }
  const absent = r.info.absent_list || [];
  if (absent.length) ul.append(el('li', 'member none', 'Not here now:'));
  for (const m of absent) {
    const li = el('li', 'member absent', shortName(m));
    if (m.last_seen) li.title = 'last seen ' + new Date(m.last_seen).toLocaleString();
    ul.append(li);
  }
}

function verifyWord(peerID) {
  const p = state.peers.get(peerID) || {};
  if (p.mismatch) return 'fingerprint did not match';
  if (p.changed) return 'key changed: verify';
  return p.verified ? 'verified' : 'not verified';
}

// markOf is the verification mark shown after a name: ✓ verified, !
// mismatched or a changed key.
function markOf(peerID) {
  const p = state.peers.get(peerID) || {};
  if (p.mismatch || p.changed) {
    const s = el('span', 'mark warn', ' !');
    s.title = p.mismatch ? 'the fingerprint given for this peer did not match: verify again' : 'this nick was used by another key before: verify before trusting';
    return s;
  }
  if (p.verified) {
    const s = el('span', 'mark ok', ' ✓');
    s.title = 'verified';
    return s;
  }
  return null;
}

// ---- messages

function order(a, b) {
  return (a.clock - b.clock) || (a.from < b.from ? -1 : a.from > b.from ? 1 : 0) || (a.seq - b.seq);
}

function renderMessages() {
  const ol = $('messages');
  const log = $('log');
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  ol.replaceChildren();
  const r = state.current ? state.rooms.get(state.current) : null;
  $('older').hidden = !(r && r.hasOlder);
  if (!r) return;
  // Notices (joins, errors) stand after the message that was last when
  // they happened.
  const after = new Map();
  for (const s of r.system) {
    if (!after.has(s.after)) after.set(s.after, []);
    after.get(s.after).push(s);
  }
  for (const s of after.get('') || []) ol.append(systemItem(s));
  for (const m of sortedMessages(r)) {
    ol.append(messageItem(m));
    for (const s of after.get(m.id) || []) ol.append(systemItem(s));
  }
  for (const p of r.sending) ol.append(sendingItem(p));
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function sortedMessages(r) {
  return [...r.msgs.values()].sort(order);
}

// maxKept bounds the messages a room keeps in the page; older ones are
// dropped (Load older messages fetches them again).
const maxKept = 2000;

// appendMessage shows m without redrawing the list when it comes last in
// room order (the usual case), else redraws.
function appendMessage(r, m) {
  const ol = $('messages');
  const last = ol.querySelector('li.msg:last-of-type');
  const prev = last && r.msgs.get(last.dataset.id);
  const log = $('log');
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  if (!prev || order(prev, m) >= 0 || ol.lastElementChild !== last) {
    renderMessages();
    return;
  }
  ol.append(messageItem(m));
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function messageItem(m) {
  const li = el('li', 'msg' + (m.self ? ' own' : ''));
  li.dataset.id = m.id;
  const t = new Date(m.time);
  const time = el('time', 'time', isNaN(t) ? '' : t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  time.dateTime = m.time;
  time.title = isNaN(t) ? m.time : t.toLocaleString();
  const who = el('span', 'who', shortName(m));
  who.title = m.from;
  const head = el('div', 'msg-head', time, ' ', who, m.self ? null : markOf(m.from));
  if (m.late) {
    const late = el('span', 'badge late', 'late');
    late.title = 'arrived after messages that follow it';
    head.append(' ', late);
  }
  if (m.self && m.state) {
    let s = m.state;
    if (s === 'seen' && m.seen_by) s = 'seen by ' + m.seen_by;
    const st = el('span', 'state ' + m.state, s);
    if (m.state === 'pending') st.title = 'no member was reachable: it is sent when one is';
    head.append(' ', st);
  }
  if (m.edited) {
    const ed = el('span', 'badge late', 'edited');
    ed.title = 'its author edited it';
    head.append(' ', ed);
  }
  const body = m.deleted
    ? el('div', 'text deleted', 'message deleted')
    : el('div', 'text' + (m.action ? ' action' : ''), m.action ? '* ' + m.nick + ' ' + m.text : m.text);
  if (mentions(m)) li.classList.add('mention');
  if (m.reply_to) li.append(el('div', 'quote', '↪ ' + quoteOf(m)));
  li.append(head, body);
  if (!m.deleted) {
    const rs = reactionsOf(m);
    if (rs) li.append(rs);
    li.append(actionsOf(m));
  }
  return li;
}

// quoteOf says what the reply m answers, as it is now.
function quoteOf(m) {
  if (m.reply_deleted) return m.reply_nick + '’s deleted message';
  if (!m.reply_nick) return 'a message not received yet';
  const first = (m.reply_text || '').split('\n')[0];
  return m.reply_nick + ': ' + first;
}

// reactionsOf is the row of m's reactions, most given first: each a
// button that adds our reaction or takes it back.
function reactionsOf(m) {
  const rs = Object.entries(m.reactions || {});
  if (!rs.length) return null;
  rs.sort((a, b) => (b[1].length - a[1].length) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const row = el('div', 'reactions');
  const me = state.self ? state.self.peer_id : '';
  for (const [r, who] of rs) {
    const b = el('button', '', r + ' ' + who.length);
    b.type = 'button';
    b.setAttribute('aria-pressed', String(who.includes(me)));
    b.setAttribute('aria-label', r + ': ' + who.length + (who.includes(me) ? ', yours included' : ''));
    b.addEventListener('click', () => react(m, r).catch((err) => showAlert(err.message)));
    row.append(b);
  }
  return row;
}

// actionsOf is the row of what can be done to m: reply and react; edit
// and delete for our own.
function actionsOf(m) {
  const row = el('div', 'actions');
  const button = (label, fn) => {
    const b = el('button', '', label);
    b.type = 'button';
    b.addEventListener('click', fn);
    row.append(b);
    return b;
  };
  button('Reply', () => compose({ kind: 'reply', room: m.room, id: m.id, label: 'Replying to ' + shortName(m) + ': ' + m.text.split('\n')[0] }));
  const reactButton = button('React', () => {
    reactButton.replaceWith(paletteOf(m));
  });
  if (m.self) {
    button('Edit', () => {
      compose({ kind: 'edit', room: m.room, id: m.id, label: 'Editing your message' });
      $('input').value = m.text;
      autosize();
    });
    button('Delete', () => {
      if (confirm('Delete this message? Members’ p2pchat removes its text; a modified one can keep it.')) {
        api('DELETE', '/v1/rooms/' + enc(m.room) + '/messages/' + enc(m.id)).then(addMessage).catch((err) => showAlert(err.message));
      }
    });
  }
  return row;
}

function paletteOf(m) {
  const row = el('span', 'palette');
  for (const r of [...palette, '…']) {
    const b = el('button', '', r);
    b.type = 'button';
    b.setAttribute('aria-label', r === '…' ? 'another reaction' : 'react ' + r);
    b.addEventListener('click', () => {
      const chosen = r === '…' ? (prompt('Reaction (an emoji or a word, no spaces)') || '').trim() : r;
      if (chosen) react(m, chosen).catch((err) => showAlert(err.message));
    });
    row.append(b);
  }
  return row;
}

async function react(m, reaction) {
  addMessage(await api('POST', '/v1/rooms/' + enc(m.room) + '/messages/' + enc(m.id) + '/reactions', { reaction }));
}

// compose makes Enter send a reply to, or an edit of, a message (c), or
// a plain message again (null).
function compose(c) {
  state.composing = c;
  $('composing').hidden = !c;
  $('composing-text').textContent = c ? c.label : '';
  if (c) $('input').focus();
}

// changed applies a reaction, edit or delete event: the message named as
// it is now, and the quotes of the replies to it.
function changed(ev) {
  const r = state.rooms.get(ev.room);
  if (!r || !ev.message) return;
  const m = r.msgs.get(ev.target);
  if (m) {
    for (const k of ['reactions', 'edited', 'deleted']) delete m[k];
    Object.assign(m, ev.message, { room: ev.room });
  }
  if (ev.type !== 'reaction') {
    for (const x of r.msgs.values()) {
      if (x.reply_to === ev.target) {
        x.reply_text = ev.message.text;
        x.reply_deleted = !!ev.message.deleted;
      }
    }
  }
  if (ev.room === state.current) renderMessages();
}

function systemItem(s) {
  const li = el('li', 'system' + (s.error ? ' error' : ''), s.text);
  return li;
}

function addSystem(name, text, error) {
  const r = roomView(name);
  const msgs = sortedMessages(r);
  r.system.push({ text, error, after: msgs.length ? msgs[msgs.length - 1].id : '' });
  if (r.system.length > 50) r.system.shift();
  if (name === state.current) renderMessages();
}

function mentions(m) {
  if (m.self || !state.self) return false;
  const nick = state.self.nick.toLowerCase();
  return m.text.toLowerCase().split(/[^\p{L}\p{N}_\-.]+/u).includes(nick);
}

function addMessage(m) {
  const r = roomView(m.room);
  const isNew = !r.msgs.has(m.id);
  const old = r.msgs.get(m.id) || {};
  // What a message no longer has (a reaction taken back) is absent from
  // the object that says how it is now.
  for (const k of ['reactions', 'edited', 'deleted']) delete old[k];
  r.msgs.set(m.id, Object.assign(old, m));
  if (r.msgs.size > maxKept) {
    for (const old of sortedMessages(r).slice(0, r.msgs.size - maxKept)) r.msgs.delete(old.id);
    r.hasOlder = true;
    r.n = maxKept;
  }
  if (isNew && !m.self) {
    const looking = m.room === state.current && !document.hidden;
    if (!looking) {
      r.unread++;
      if (mentions(m)) { r.mention = true; notify(m); }
      renderRooms();
    }
  }
  if (m.room === state.current) {
    if (isNew) appendMessage(r, r.msgs.get(m.id));
    else renderMessages();
  }
}

function notify(m) {
  if (!$('notify').checked || !('Notification' in window) || Notification.permission !== 'granted') return;
  // Who and where, never the text (as the terminal UI's --notify).
  new Notification('p2pchat: ' + shortName(m) + ' mentioned you', { body: 'in ' + m.room, tag: 'p2pchat-' + m.room });
}

// ---- events

function handle(ev) {
  switch (ev.type) {
    case 'joined':
      roomView(ev.room);
      refreshRoom(ev.room);
      addSystem(ev.room, 'joined: messages are end-to-end encrypted');
      break;
    case 'left':
      state.rooms.delete(ev.room);
      if (state.current === ev.room) selectRoom([...state.rooms.keys()].sort()[0] || '');
      renderRooms();
      break;
    case 'member_joined':
      addSystem(ev.room, shortName(ev) + ' joined');
      refreshSoon(ev.room);
      break;
    case 'member_left':
      addSystem(ev.room, shortName(ev) + ' left (' + ev.reason + ')');
      refreshSoon(ev.room);
      break;
    case 'nick':
      if (ev.room) {
        addSystem(ev.room, ev.old_nick + '#' + ev.fp + ' is now ' + ev.nick);
        refreshSoon(ev.room);
      } else if (state.self) {
        state.self.nick = ev.nick;
        renderSelf();
      }
      break;
    case 'key_changed': {
      const p = state.peers.get(ev.peer_id) || {};
      p.changed = true;
      state.peers.set(ev.peer_id, p);
      addSystem(ev.room, shortName(ev) + ' uses a nick another key used before: verify before trusting', true);
      refreshSoon(ev.room);
      break;
    }
    case 'message':
      addMessage(ev);
      break;
    case 'away':
      if (ev.room) {
        addSystem(ev.room, shortName(ev) + (ev.text ? ' is away: ' + ev.text : ' is back'));
        refreshSoon(ev.room);
      }
      break;
    case 'reaction':
    case 'edit':
    case 'delete':
      changed(ev);
      break;
    case 'state': {
      const r = state.rooms.get(ev.room);
      const m = r && r.msgs.get(ev.id);
      if (m) {
        m.state = ev.state;
        m.seen_by = ev.seen_by;
        if (ev.room === state.current) renderMessages();
      }
      break;
    }
    case 'error':
      if (ev.reason === 'events_missed') {
        for (const name of state.rooms.keys()) loadHistory(name);
      } else if (ev.room) {
        addSystem(ev.room, ev.error, true);
        refreshSoon(ev.room);
      } else {
        showAlert(ev.error);
      }
      break;
  }
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// follow reads the event stream for as long as the page is open,
// resuming after the last event handled when the stream breaks.
async function follow() {
  let backoff = 250;
  let reconnected = false;
  for (;;) {
    try {
      const q = state.lastEvent === null ? '' : '?since=' + state.lastEvent;
      const res = await fetch('/v1/events' + q, { headers: { 'X-P2pchat-Csrf': token() }, cache: 'no-store' });
      if (res.status === 401) { signedOut(); return; }
      if (!res.ok) throw new Error('event stream: HTTP ' + res.status);
      // A restarted node (whose event ids start again) knows no session:
      // it answered 401 above, so since= always means this node's events.
      if (state.lastEvent === null) {
        state.lastEvent = Number(res.headers.get('P2pchat-Event-Head') || 0);
      }
      setConn('');
      backoff = 250;
      if (reconnected) {
        // The events missed come from the stream (since=); what members
        // and rooms look like now comes from the node.
        reconnected = false;
        for (const name of state.rooms.keys()) refreshSoon(name);
      }
      await readLines(res.body, (line) => {
        const ev = JSON.parse(line);
        if (typeof ev.event_id === 'number') state.lastEvent = ev.event_id;
        try { handle(ev); } catch (e) { console.error('event', ev.type, e); }
      });
    } catch (e) {
      // fall through: reconnect
    }
    setConn('reconnecting…');
    reconnected = true;
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 5000);
  }
}

async function readLines(body, fn) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim() !== '') fn(line);
    }
  }
}

async function loadAll() {
  const st = await api('GET', '/v1/status');
  state.self = st;
  renderSelf();
  const names = new Set(st.rooms.map((r) => r.room));
  for (const name of [...state.rooms.keys()]) if (!names.has(name)) state.rooms.delete(name);
  for (const r of st.rooms) roomView(r.room).info = roomView(r.room).info || null;
  if (!state.current && location.hash.length > 1) {
    try { state.current = decodeURIComponent(location.hash.slice(1)); } catch (e) { /* not a room */ }
  }
  if (!state.current || !state.rooms.has(state.current)) state.current = [...names].sort()[0] || '';
  renderRooms();
  await Promise.all([...names].map((n) => refreshRoom(n)));
  await selectRoom(state.current);
}

function renderSelf() {
  $('me-name').textContent = state.self.nick + '#' + state.self.fp;
  renderMembers();
}

// ---- actions

async function send(text) {
  const name = state.current;
  let action = false;
  if (text.startsWith('//')) {
    text = text.slice(1);
  } else if (text.startsWith('/me ')) {
    text = text.slice(4);
    action = true;
  } else if (text.startsWith('/')) {
    return command(text);
  }
  // Shown at once as "sending…": the node answers only once the room key
  // is held (up to 30 s after a join).
  const c = state.composing && state.composing.room === name ? state.composing : null;
  compose(null);
  if (c && c.kind === 'edit') {
    addMessage(await api('PATCH', '/v1/rooms/' + enc(name) + '/messages/' + enc(c.id) + '?wait=30s', { text }));
    return;
  }
  const r = roomView(name);
  const placeholder = { text, action };
  r.sending.push(placeholder);
  if (name === state.current) renderMessages();
  const body = { text, action };
  if (c && c.kind === 'reply' && !action) body.reply_to = c.id;
  try {
    const m = await api('POST', '/v1/rooms/' + enc(name) + '/messages?wait=30s', body);
    r.sending = r.sending.filter((p) => p !== placeholder);
    addMessage(m);
  } finally {
    if (r.sending.includes(placeholder)) {
      r.sending = r.sending.filter((p) => p !== placeholder);
      if (name === state.current) renderMessages();
    }
  }
}

function sendingItem(p) {
  const who = state.self ? state.self.nick + '#' + state.self.fp : '';
  const head = el('div', 'msg-head', el('span', 'who', who), ' ', el('span', 'state sending', 'sending…'));
  const body = el('div', 'text' + (p.action ? ' action' : ''), p.action ? '* ' + (state.self ? state.self.nick : '') + ' ' + p.text : p.text);
  return el('li', 'msg own sending', head, body);
}

async function command(line) {
  const [cmd, ...args] = line.split(/\s+/);
  switch (cmd) {
    case '/join': return join(args[0] || '', '');
    case '/leave': return leave(args[0] || state.current);
    case '/nick': return api('PUT', '/v1/nick', { nick: args[0] || '' }).then(() => { state.self.nick = args[0]; renderSelf(); });
    case '/away': {
      const text = line.slice(cmd.length).trim() || 'away';
      return api('PUT', '/v1/away', { text }).then(() => addSystem(state.current, 'you are away: ' + text + ' (/back when you are back)'));
    }
    case '/back': return api('PUT', '/v1/away', { text: '' }).then(() => addSystem(state.current, 'you are back'));
    default:
      throw new Error('unknown command ' + cmd + ': the page knows /me, /join, /leave, /nick, /away and /back; type //' + line.slice(1) + ' to send it as text');
  }
}

async function join(name, passphrase) {
  const body = { room: name };
  if (passphrase) body.passphrase = passphrase;
  const info = await api('POST', '/v1/rooms', body);
  const r = roomView(info.room);
  r.info = info;
  renderRooms();
  await selectRoom(info.room);
}

async function leave(name) {
  if (!name) return;
  await api('DELETE', '/v1/rooms/' + enc(name));
  state.rooms.delete(name);
  if (state.current === name) await selectRoom([...state.rooms.keys()].sort()[0] || '');
  renderRooms();
}

// ---- search

// searchSeq numbers searches: an answer that comes after a newer search,
// or after the results were closed, is not shown.
let searchSeq = 0;

async function search(q) {
  const seq = ++searchSeq;
  const res = await api('GET', '/v1/search?q=' + enc(q) + '&n=50');
  if (seq !== searchSeq) return;
  $('results-title').textContent = res.hits.length + (res.hits.length === 1 ? ' message contains ' : ' messages contain ') + '“' + q + '”';
  const ol = $('hits');
  ol.replaceChildren();
  for (const h of res.hits) {
    const b = el('button', 'hit', el('span', 'hit-room', h.room), ' ', el('span', 'who', shortName(h)), ' ', snippet(h.snippet));
    b.type = 'button';
    b.addEventListener('click', () => selectRoom(h.room));
    ol.append(el('li', null, b));
  }
  $('results').hidden = false;
  $('log').hidden = true;
}

// snippet shows the matches between [ and ] as marked text.
function snippet(s) {
  const span = el('span', 'snippet');
  const re = /\[([^\]]*)\]/g;
  let last = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    span.append(s.slice(last, m.index), el('mark', null, m[1]));
    last = re.lastIndex;
  }
  span.append(s.slice(last));
  return span;
}

function closeResults() {
  searchSeq++;
  $('results').hidden = true;
  $('log').hidden = false;
}

// ---- verification

let verifying = null;
function openVerify(m) {
  verifying = m;
  $('verify-title').textContent = 'Verify ' + shortName(m);
  $('verify-theirs').textContent = m.fingerprint;
  $('verify-mine').textContent = state.self.fingerprint;
  $('verify-input').value = '';
  $('verify-result').textContent = verifyWord(m.peer_id) === 'verified' ? 'Already verified.' : '';
  $('verify-input').hidden = false;
  $('verify-submit').hidden = false;
  $('verify-dialog').showModal();
}

function openOwnFingerprint() {
  verifying = null;
  $('verify-title').textContent = 'Your fingerprint';
  $('verify-theirs').textContent = state.self.fingerprint;
  $('verify-mine').textContent = state.self.fp;
  $('verify-input').hidden = true;
  $('verify-submit').hidden = true;
  $('verify-result').textContent = '';
  $('verify-dialog').showModal();
}

// ---- wiring

function bind() {
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('input');
    const text = input.value;
    if (text.trim() === '' || !state.current) return;
    input.value = '';
    autosize();
    send(text).catch((err) => {
      if (input.value === '') { input.value = text; autosize(); }
      showAlert(err.message);
    });
  });
  $('input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('input').addEventListener('input', autosize);
  $('composing-cancel').addEventListener('click', () => {
    if (state.composing && state.composing.kind === 'edit') { $('input').value = ''; autosize(); }
    compose(null);
  });
  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('join-room').value.trim();
    const pass = $('join-pass').value;
    // The passphrase leaves the page's fields at once.
    $('join-pass').value = '';
    join(name, pass).then(() => { $('join-room').value = ''; }).catch((err) => showAlert(err.message));
  });
  $('leave-button').addEventListener('click', () => leave(state.current).catch((err) => showAlert(err.message)));
  $('older').addEventListener('click', () => {
    const r = state.rooms.get(state.current);
    if (!r) return;
    const log = $('log');
    const fromBottom = log.scrollHeight - log.scrollTop;
    r.n += 100;
    loadHistory(r.name).then(() => { log.scrollTop = log.scrollHeight - fromBottom; });
  });
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('search').value.trim();
    if (q) search(q).catch((err) => showAlert(err.message));
  });
  $('results-close').addEventListener('click', closeResults);
  $('verify-form').addEventListener('submit', (e) => {
    if (!verifying) return;
    e.preventDefault();
    const m = verifying;
    api('POST', '/v1/verify', { peer_id: m.peer_id, fingerprint: $('verify-input').value })
      .then(() => {
        const p = state.peers.get(m.peer_id) || {};
        Object.assign(p, { verified: true, mismatch: false, changed: false });
        state.peers.set(m.peer_id, p);
        $('verify-result').textContent = shortName(m) + ' is verified.';
        renderMembers();
        renderMessages();
      })
      .catch((err) => {
        $('verify-result').textContent = err.code === 'fingerprint_mismatch'
          ? 'That is not the fingerprint of ' + shortName(m) + '’s key: someone may be impersonating them.'
          : err.message;
        if (err.code === 'fingerprint_mismatch') {
          const p = state.peers.get(m.peer_id) || {};
          Object.assign(p, { verified: false, mismatch: true });
          state.peers.set(m.peer_id, p);
          renderMembers();
        }
      });
  });
  $('verify-cancel').addEventListener('click', () => $('verify-dialog').close());
  $('me-fp-button').addEventListener('click', openOwnFingerprint);
  $('nick-button').addEventListener('click', () => {
    $('nick-input').value = state.self.nick;
    $('nick-result').textContent = '';
    $('nick-dialog').showModal();
  });
  $('nick-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const nick = $('nick-input').value;
    api('PUT', '/v1/nick', { nick }).then(() => {
      state.self.nick = nick;
      renderSelf();
      $('nick-dialog').close();
    }).catch((err) => { $('nick-result').textContent = err.message; });
  });
  $('nick-cancel').addEventListener('click', () => $('nick-dialog').close());
  $('logout-button').addEventListener('click', () => {
    api('POST', '/logout').catch(() => {}).finally(signedOut);
  });
  $('notify').checked = localStorage.getItem('p2pchat-notify') === '1' && 'Notification' in window && Notification.permission === 'granted';
  $('notify').addEventListener('change', async () => {
    const box = $('notify');
    if (box.checked && 'Notification' in window && Notification.permission !== 'granted') {
      box.checked = (await Notification.requestPermission()) === 'granted';
    }
    localStorage.setItem('p2pchat-notify', box.checked ? '1' : '0');
  });
  for (const [button, cls] of [['rooms-toggle', 'show-rooms'], ['members-toggle', 'show-members']]) {
    $(button).addEventListener('click', () => {
      const on = document.body.classList.toggle(cls);
      $(button).setAttribute('aria-expanded', String(on));
    });
  }
  document.addEventListener('keydown', (e) => {
    if (e.altKey && !e.ctrlKey && !e.metaKey && e.key >= '1' && e.key <= '9') {
      const name = [...state.rooms.keys()].sort()[Number(e.key) - 1];
      if (name) { e.preventDefault(); selectRoom(name); }
    } else if (e.key === 'Escape' && !$('results').hidden) {
      closeResults();
    } else if (e.key === 'Escape' && state.composing) {
      $('composing-cancel').click();
    }
  });
  document.addEventListener('visibilitychange', () => {
    const r = state.rooms.get(state.current);
    if (!document.hidden && r && r.unread) { r.unread = 0; r.mention = false; renderRooms(); }
  });
}

function autosize() {
  const t = $('input');
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight, 200) + 'px';
}

async function main() {
  if (location.hash.startsWith('#login=')) {
    localStorage.setItem(tokenKey, location.hash.slice('#login='.length));
    history.replaceState(null, '', location.pathname);
  }
  try {
    const res = await fetch('/session', { headers: { 'X-P2pchat-Csrf': token() }, cache: 'no-store' });
    if (res.status === 401 || res.status === 403) { signedOut(); return; }
    if (!res.ok) throw new Error('HTTP ' + res.status);
  } catch (e) {
    $('signin-text').textContent = 'Your node does not answer (' + e.message + '). Is p2pchat still running?';
    signedOut();
    return;
  }
  bind();
  $('signin').hidden = true;
  $('app').hidden = false;
  follow(); // runs for as long as the page is open
  try {
    await loadAll();
  } catch (e) {
    showAlert(e.message);
  }
}

main();
