// The chinwag web client: one IRC connection over WebSocket, conversations on the left, the
// conversation in the middle, the people of a room on the right.
//
// Safety: every piece of text from the network reaches the page through textContent or
// renderText (text nodes and spans), never through innerHTML; the page's Content-Security-Policy
// forbids any script not served by chinwag.

import { buildLine, fold, nickOf, parseLine, renderText, stripFormatting } from "./irc.js";

const WANTED_CAPS = ["server-time", "message-tags", "echo-message", "batch", "draft/chathistory", "multi-prefix"];
const HISTORY_LINES = 50;
const KEPT_LINES = 1000; // per conversation
const BACKOFF_FIRST = 1000; // ms; doubles after each failed try
const BACKOFF_MAX = 30000;
const NICK_RETRIES = 5;
const SASL_CHUNK = 400;
// A line is 512 bytes once the server puts "nick!user@host" in front; this leaves room for it.
const PIECE_BYTES = 350;
const SERVER = "*server*"; // the key of the conversation with the server itself

const $ = (id) => document.getElementById(id);
const ui = {
  login: $("login"), nick: $("nick"), password: $("password"), loginError: $("login-error"), chat: $("chat"),
  status: $("status"), leave: $("leave"), conversations: $("conversations"), title: $("title"),
  topic: $("topic"), log: $("log"), compose: $("compose"), message: $("message"),
  people: $("people"), peoplePanel: $("people-panel"), peopleToggle: $("people-toggle"),
  peopleClose: $("people-close"),
};

/** Everything the client knows, as plain data; the DOM is redrawn from it. */
const state = {
  socket: null,
  wantedNick: "",
  password: "", // for SASL PLAIN, kept in memory only, for reconnections
  account: "",
  nick: "",
  registered: false,
  leaving: false,
  nickTries: 0,
  backoff: BACKOFF_FIRST,
  reconnectTimer: null,
  caps: new Set(),
  lsCaps: new Set(),
  casemapping: "rfc1459",
  chantypes: "#&",
  prefixes: "@+",
  network: "chinwag",
  conversations: new Map(), // folded name -> conversation
  order: [], // folded names, in the order shown
  active: null,
  batches: new Map(), // ref -> {type, target, lines}
};

function key(name) {
  return fold(name, state.casemapping);
}

function isChannel(name) {
  return name !== "" && state.chantypes.includes(name[0]);
}

function conversation(name, { create = true } = {}) {
  const k = name === SERVER ? SERVER : key(name);
  let conv = state.conversations.get(k);
  if (!conv && create) {
    conv = {
      key: k, name, channel: isChannel(name), lines: [], msgids: new Set(), unread: 0,
      members: new Map(), topic: "", joined: false, historyAsked: false, pendingNames: null,
    };
    state.conversations.set(k, conv);
    state.order.push(k);
    drawConversations();
  }
  return conv;
}

// -- the connection --------------------------------------------------------------------------

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/irc`;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  setStatus("Connecting…");
  const socket = new WebSocket(socketUrl(), ["text.ircv3.net"]);
  state.socket = socket;
  state.registered = false;
  state.caps = new Set();
  state.lsCaps = new Set();
  socket.addEventListener("open", () => {
    send("CAP", "LS", "302");
    send("NICK", state.wantedNick);
    send("USER", "web", "0", "*", "chinwag web client");
  });
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") receive(parseLine(event.data));
  });
  socket.addEventListener("close", () => {
    if (state.socket !== socket) return;
    state.socket = null;
    for (const conv of state.conversations.values()) {
      conv.joined = false;
      conv.historyAsked = false;
    }
    if (state.leaving) return;
    const delay = Math.round(state.backoff * (0.75 + Math.random() / 2));
    state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX);
    setStatus(`Disconnected. Trying again in ${Math.ceil(delay / 1000)} s…`);
    state.reconnectTimer = setTimeout(connect, delay);
  });
}

function send(command, ...params) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(buildLine(command, ...params));
  }
}

function leave() {
  state.leaving = true;
  clearTimeout(state.reconnectTimer);
  if (state.socket) {
    send("QUIT", "Leaving");
    state.socket.close(1000);
  }
  state.socket = null;
  ui.chat.hidden = true;
  ui.leave.hidden = true;
  ui.login.hidden = false;
  setStatus("Not connected");
  ui.nick.focus();
}

// -- what the server says --------------------------------------------------------------------

function timeOf(msg) {
  const at = msg.tags.time ? new Date(msg.tags.time) : new Date();
  return Number.isNaN(at.getTime()) ? new Date() : at;
}

function receive(msg) {
  const ref = msg.tags.batch;
  if (ref && state.batches.has(ref) && msg.command !== "BATCH") {
    state.batches.get(ref).lines.push(msg);
    return;
  }
  const handler = HANDLERS[msg.command];
  if (handler) handler(msg);
  else if (/^[45]\d\d$/.test(msg.command)) showError(msg.params.slice(1).join(" "));
  else if (/^\d\d\d$/.test(msg.command)) addLine(conversation(SERVER), { kind: "server", text: msg.params.slice(1).join(" "), time: timeOf(msg) });
}

const HANDLERS = {
  PING: (msg) => send("PONG", ...msg.params),
  ERROR: (msg) => setStatus(stripFormatting(msg.params[0] || "Disconnected")),
  CAP: (msg) => {
    const sub = msg.params[1];
    if (sub === "LS") {
      const more = msg.params[2] === "*";
      for (const item of msg.params[more ? 3 : 2].split(" ")) if (item) state.lsCaps.add(item.split("=")[0]);
      if (!more) {
        if (state.password && !state.lsCaps.has("sasl")) return loginFailed("This server has no accounts: leave the password empty.");
        const wanted = WANTED_CAPS.filter((cap) => state.lsCaps.has(cap));
        if (state.password) wanted.push("sasl");
        if (wanted.length) send("CAP", "REQ", wanted.join(" "));
        else send("CAP", "END");
      }
    } else if (sub === "ACK") {
      for (const item of msg.params[2].split(" ")) if (item) state.caps.add(item);
      if (state.password && state.caps.has("sasl")) send("AUTHENTICATE", "PLAIN");
      else send("CAP", "END");
    } else if (sub === "NAK") {
      if (state.password) return loginFailed("The server refused to log in.");
      send("CAP", "END");
    }
  },
  AUTHENTICATE: (msg) => {
    if (msg.params[0] !== "+") return;
    const bytes = new TextEncoder().encode(`${state.wantedNick}\0${state.wantedNick}\0${state.password}`);
    const payload = btoa(String.fromCharCode(...bytes));
    for (let i = 0; i < payload.length; i += SASL_CHUNK) send("AUTHENTICATE", payload.slice(i, i + SASL_CHUNK));
    if (payload.length % SASL_CHUNK === 0) send("AUTHENTICATE", "+");
  },
  "900": (msg) => {
    state.account = msg.params[2] || "";
  },
  "903": () => send("CAP", "END"),
  "904": () => loginFailed("Wrong nick or password."),
  "902": (msg) => loginFailed(msg.params.slice(1).join(" ")),
  "905": () => loginFailed("Wrong nick or password."),
  "001": (msg) => {
    state.nick = msg.params[0];
    state.registered = true;
    state.backoff = BACKOFF_FIRST;
    state.nickTries = 0;
    setStatus(connectedText());
    // After a reconnection: back into the rooms we were in (the server adds its own).
    for (const conv of state.conversations.values()) if (conv.channel) send("JOIN", conv.name);
  },
  "005": (msg) => {
    for (const token of msg.params.slice(1, -1)) {
      const [name, value = ""] = token.split("=");
      if (name === "CASEMAPPING") state.casemapping = value;
      else if (name === "CHANTYPES") state.chantypes = value;
      else if (name === "NETWORK") state.network = value;
      else if (name === "PREFIX") state.prefixes = value.replace(/^\([^)]*\)/, "");
    }
  },
  "433": (msg) => {
    if (state.registered) return showError(msg.params.slice(1).join(" "));
    if (state.nickTries++ >= NICK_RETRIES) return loginFailed(`The nick ${state.wantedNick} is taken.`);
    send("NICK", `${msg.params[1]}_`);
  },
  "432": (msg) => (state.registered ? showError(msg.params.slice(1).join(" ")) : loginFailed(msg.params.slice(2).join(" ") || "That nick is not allowed.")),
  "332": (msg) => {
    const conv = conversation(msg.params[1], { create: false });
    if (conv) setTopic(conv, msg.params[2] || "");
  },
  "353": (msg) => {
    const conv = conversation(msg.params[2], { create: false });
    if (!conv) return; // NAMES of a room we are not in: nothing to show it in
    conv.pendingNames = conv.pendingNames || new Map();
    for (const entry of msg.params[3].split(" ")) {
      if (!entry) continue;
      let i = 0;
      while (i < entry.length && state.prefixes.includes(entry[i])) i++;
      const nick = nickOf(entry.slice(i));
      conv.pendingNames.set(key(nick), { nick, prefix: entry.slice(0, i) });
    }
  },
  "366": (msg) => {
    const conv = conversation(msg.params[1], { create: false });
    if (!conv) return;
    conv.members = conv.pendingNames || new Map();
    conv.pendingNames = null;
    if (conv.key === state.active) drawPeople();
  },
  JOIN: (msg) => {
    const nick = nickOf(msg.source);
    const conv = conversation(msg.params[0]);
    if (key(nick) === key(state.nick)) {
      conv.joined = true;
      askHistory(conv);
      if (!state.active || state.active === SERVER) activate(conv.key);
    } else {
      conv.members.set(key(nick), { nick, prefix: "" });
      addLine(conv, { kind: "event", text: `${nick} joined`, time: timeOf(msg) });
      if (conv.key === state.active) drawPeople();
    }
  },
  PART: (msg) => {
    const nick = nickOf(msg.source);
    const conv = conversation(msg.params[0], { create: false });
    if (!conv) return;
    if (key(nick) === key(state.nick)) return forget(conv);
    conv.members.delete(key(nick));
    const reason = msg.params[1] ? ` (${msg.params[1]})` : "";
    addLine(conv, { kind: "event", text: `${nick} left${reason}`, time: timeOf(msg) });
    if (conv.key === state.active) drawPeople();
  },
  KICK: (msg) => {
    const conv = conversation(msg.params[0], { create: false });
    if (!conv) return;
    const who = msg.params[1];
    addLine(conv, { kind: "event", text: `${who} was removed by ${nickOf(msg.source)} (${msg.params[2] || ""})`, time: timeOf(msg) });
    if (key(who) === key(state.nick)) {
      conv.joined = false;
      conv.members.clear();
    } else {
      conv.members.delete(key(who));
    }
    if (conv.key === state.active) drawPeople();
  },
  QUIT: (msg) => {
    const nick = nickOf(msg.source);
    const reason = msg.params[0] ? ` (${msg.params[0]})` : "";
    for (const conv of state.conversations.values()) {
      if (conv.members.delete(key(nick)) || (!conv.channel && conv.key === key(nick))) {
        addLine(conv, { kind: "event", text: `${nick} left the chat${reason}`, time: timeOf(msg) });
      }
    }
    drawPeople();
  },
  NICK: (msg) => {
    const old = nickOf(msg.source);
    const renamed = msg.params[0];
    if (key(old) === key(state.nick)) {
      state.nick = renamed;
      setStatus(connectedText());
    }
    for (const conv of state.conversations.values()) {
      const member = conv.members.get(key(old));
      if (member) {
        conv.members.delete(key(old));
        conv.members.set(key(renamed), { ...member, nick: renamed });
        addLine(conv, { kind: "event", text: `${old} is now known as ${renamed}`, time: timeOf(msg) });
      }
    }
    drawPeople();
  },
  TOPIC: (msg) => {
    const conv = conversation(msg.params[0]);
    setTopic(conv, msg.params[1] || "");
    addLine(conv, { kind: "event", text: `${nickOf(msg.source)} set the topic: ${msg.params[1] || ""}`, time: timeOf(msg) });
  },
  PRIVMSG: (msg) => chatMessage(msg, false),
  NOTICE: (msg) => chatMessage(msg, true),
  BATCH: (msg) => {
    const name = msg.params[0];
    if (name.startsWith("+")) {
      state.batches.set(name.slice(1), { type: msg.params[1], target: msg.params[2], lines: [] });
    } else if (name.startsWith("-")) {
      const batch = state.batches.get(name.slice(1));
      state.batches.delete(name.slice(1));
      if (batch && batch.type && batch.type.endsWith("chathistory")) mergeHistory(batch);
      else if (batch) for (const line of batch.lines) receive({ ...line, tags: { ...line.tags, batch: "" } });
    }
  },
  FAIL: (msg) => showError(msg.params.slice(2).join(" ")),
};

function connectedText() {
  return state.account ? `Connected as ${state.nick} (logged in)` : `Connected as ${state.nick}`;
}

function loginFailed(text) {
  leave();
  ui.loginError.textContent = text;
}

function chatLine(msg, notice) {
  const from = nickOf(msg.source);
  let text = msg.params[1] || "";
  let action = false;
  if (text.startsWith("\x01")) {
    const body = text.replace(/^\x01|\x01$/g, "");
    if (!body.startsWith("ACTION ")) return null; // other CTCP: not shown
    text = body.slice(7);
    action = true;
  }
  const self = key(from) === key(state.nick);
  return {
    kind: notice ? "notice" : action ? "action" : "message", from, text, time: timeOf(msg),
    msgid: msg.tags.msgid || null, self, mention: !self && mentions(text),
  };
}

/** Whether text names me as a word ("webby:", "hi webby!"), in any case. */
function mentions(text) {
  if (!state.nick) return false;
  const plain = fold(stripFormatting(text), state.casemapping);
  const nick = fold(state.nick, state.casemapping);
  let at = plain.indexOf(nick);
  while (at >= 0) {
    const before = at === 0 ? " " : plain[at - 1];
    const after = plain[at + nick.length] || " ";
    if (!/[\w\-\[\]\\`^{}|]/.test(before) && !/[\w\-\[\]\\`^{}|]/.test(after)) return true;
    at = plain.indexOf(nick, at + 1);
  }
  return false;
}

function conversationOf(msg) {
  const target = msg.params[0];
  const from = nickOf(msg.source);
  if (isChannel(target)) return conversation(target);
  if (!msg.source.includes("!") || from === "*") return conversation(SERVER);
  return conversation(key(from) === key(state.nick) ? target : from);
}

function chatMessage(msg, notice) {
  const line = chatLine(msg, notice);
  if (line) addLine(conversationOf(msg), line);
}

function askHistory(conv) {
  if (!state.caps.has("draft/chathistory") || conv.historyAsked || conv.key === SERVER) return;
  conv.historyAsked = true;
  send("CHATHISTORY", "LATEST", conv.name, "*", String(HISTORY_LINES));
}

function mergeHistory(batch) {
  const conv = conversation(batch.target);
  const older = [];
  for (const msg of batch.lines) {
    if (msg.command !== "PRIVMSG" && msg.command !== "NOTICE") continue;
    const line = chatLine(msg, msg.command === "NOTICE");
    if (line && !(line.msgid && conv.msgids.has(line.msgid))) older.push({ ...line, history: true });
  }
  if (!older.length) return;
  for (const line of older) if (line.msgid) conv.msgids.add(line.msgid);
  conv.lines = [...older, ...conv.lines].sort((a, b) => a.time - b.time).slice(-KEPT_LINES);
  if (conv.key === state.active) drawLog();
}

function forget(conv) {
  state.conversations.delete(conv.key);
  state.order = state.order.filter((k) => k !== conv.key);
  if (state.active === conv.key) activate(state.order.find((k) => k !== SERVER) || state.order[0] || null);
  drawConversations();
}

function setTopic(conv, topic) {
  conv.topic = topic;
  if (conv.key === state.active) drawHeader();
}

// -- conversations and lines -----------------------------------------------------------------

function addLine(conv, line) {
  if (line.msgid) {
    if (conv.msgids.has(line.msgid)) return;
    conv.msgids.add(line.msgid);
  }
  conv.lines.push(line);
  if (conv.lines.length > KEPT_LINES) conv.lines.splice(0, conv.lines.length - KEPT_LINES);
  if (conv.key === state.active) {
    const stick = ui.log.scrollTop + ui.log.clientHeight >= ui.log.scrollHeight - 40;
    ui.log.append(lineElement(line));
    while (ui.log.childElementCount > KEPT_LINES) ui.log.firstElementChild.remove();
    if (stick || line.self) ui.log.scrollTop = ui.log.scrollHeight;
  } else if (line.kind !== "event" && line.kind !== "server" && !line.self) {
    conv.unread += 1;
    conv.mentioned ||= Boolean(line.mention) || !conv.channel;
    drawConversations();
  }
}

function showError(text) {
  const conv = state.active ? state.conversations.get(state.active) : conversation(SERVER);
  addLine(conv, { kind: "error", text, time: new Date() });
}

function lineElement(line) {
  const li = document.createElement("li");
  li.className = `line ${line.kind}${line.self ? " self" : ""}${line.history ? " history" : ""}${line.mention ? " mention" : ""}`;
  const time = document.createElement("time");
  time.dateTime = line.time.toISOString();
  time.textContent = line.time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  time.title = line.time.toLocaleString();
  li.append(time, " ");
  if (line.kind === "message" || line.kind === "notice") {
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = line.kind === "notice" ? `-${line.from}-` : line.from;
    li.append(who, " ");
  } else if (line.kind === "action") {
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = `* ${line.from}`;
    li.append(who, " ");
  }
  const body = document.createElement("span");
  body.className = "text";
  body.append(line.kind === "event" || line.kind === "error" || line.kind === "server" ? document.createTextNode(stripFormatting(line.text)) : renderText(line.text));
  li.append(body);
  return li;
}

function activate(k) {
  state.active = k;
  const conv = k ? state.conversations.get(k) : null;
  if (conv) {
    conv.unread = 0;
    conv.mentioned = false;
    askHistory(conv);
  }
  drawConversations();
  drawHeader();
  drawLog();
  drawPeople();
}

function openPrivate(nick) {
  const conv = conversation(nick);
  activate(conv.key);
  closePeoplePanel();
  ui.message.focus();
}

// -- drawing ---------------------------------------------------------------------------------

function titleOf(conv) {
  return conv.key === SERVER ? state.network : conv.name;
}

function drawConversations() {
  const items = [];
  let unread = 0;
  for (const k of state.order) {
    const conv = state.conversations.get(k);
    unread += conv.unread;
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = `conversation-button${k === SERVER ? " server" : conv.channel ? "" : " private"}`;
    if (k === state.active) button.setAttribute("aria-current", "true");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = titleOf(conv);
    button.append(name);
    if (conv.unread) {
      const badge = document.createElement("span");
      badge.className = conv.mentioned ? "unread mentioned" : "unread";
      badge.textContent = String(conv.unread);
      badge.setAttribute("aria-label", `${conv.unread} unread`);
      button.append(" ", badge);
    }
    button.addEventListener("click", () => {
      activate(k);
      ui.message.focus();
    });
    li.append(button);
    items.push(li);
  }
  ui.conversations.replaceChildren(...items);
  document.title = unread ? `(${unread}) chinwag` : "chinwag";
}

function drawHeader() {
  const conv = state.active ? state.conversations.get(state.active) : null;
  ui.title.textContent = conv ? (conv.channel || conv.key === SERVER ? titleOf(conv) : `Private: ${conv.name}`) : "";
  ui.topic.replaceChildren(conv && conv.topic ? renderText(conv.topic) : "");
}

function drawLog() {
  const conv = state.active ? state.conversations.get(state.active) : null;
  ui.log.replaceChildren(...(conv ? conv.lines.map(lineElement) : []));
  ui.log.scrollTop = ui.log.scrollHeight;
}

function drawPeople() {
  const conv = state.active ? state.conversations.get(state.active) : null;
  const members = conv && conv.channel ? [...conv.members.values()] : [];
  const rank = (m) => (m.prefix ? state.prefixes.indexOf(m.prefix[0]) : state.prefixes.length);
  members.sort((a, b) => rank(a) - rank(b) || a.nick.localeCompare(b.nick, undefined, { sensitivity: "base" }));
  const items = members.map((member) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "person";
    button.title = `Talk privately with ${member.nick}`;
    if (member.prefix) {
      const prefix = document.createElement("span");
      prefix.className = "prefix";
      prefix.textContent = member.prefix[0];
      prefix.setAttribute("aria-hidden", "true");
      button.append(prefix);
    }
    button.append(document.createTextNode(member.nick));
    if (key(member.nick) === key(state.nick)) {
      button.disabled = true;
      button.title = "You";
    } else {
      button.addEventListener("click", () => openPrivate(member.nick));
    }
    li.append(button);
    return li;
  });
  ui.people.replaceChildren(...items);
  ui.peopleToggle.textContent = `People (${members.length})`;
  ui.peopleToggle.hidden = !(conv && conv.channel);
}

function setStatus(text) {
  ui.status.textContent = text;
}

function closePeoplePanel() {
  ui.peoplePanel.classList.remove("open");
  ui.peopleToggle.setAttribute("aria-expanded", "false");
}

// -- what the user does ----------------------------------------------------------------------

function submitMessage(text) {
  const conv = state.active ? state.conversations.get(state.active) : null;
  if (text.startsWith("/") && !text.startsWith("//")) return command(text.slice(1), conv);
  if (text.startsWith("//")) text = text.slice(1);
  if (!conv || conv.key === SERVER) return showError("Pick a room or a person to talk to first.");
  say(conv.name, text);
}

function say(target, text, action = false) {
  for (const piece of splitText(text)) {
    send("PRIVMSG", target, action ? `\x01ACTION ${piece}\x01` : piece);
    if (!state.caps.has("echo-message")) {
      addLine(conversation(target), { kind: action ? "action" : "message", from: state.nick, text: piece, time: new Date(), self: true });
    }
  }
}

/** Cut text into pieces that fit one IRC line once relayed, at a space when there is one. */
function splitText(text) {
  const encoder = new TextEncoder();
  const pieces = [];
  let rest = text;
  while (encoder.encode(rest).length > PIECE_BYTES) {
    let cut = 0;
    let bytes = 0;
    for (const char of rest) {
      bytes += encoder.encode(char).length;
      if (bytes > PIECE_BYTES) break;
      cut += char.length;
    }
    const space = rest.lastIndexOf(" ", cut);
    if (space > cut / 2) cut = space;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^ /, "");
  }
  if (rest) pieces.push(rest);
  return pieces;
}

function command(line, conv) {
  const [verb, ...rest] = line.split(" ");
  const args = rest.join(" ").trim();
  switch (verb.toLowerCase()) {
    case "join":
      if (args) send("JOIN", args.split(" ")[0]);
      break;
    case "part":
    case "leave":
      if (conv && conv.channel) send("PART", conv.name, args || "Leaving");
      else if (conv && conv.key !== SERVER) forget(conv);
      break;
    case "me":
      if (conv && conv.key !== SERVER) say(conv.name, args, true);
      break;
    case "msg":
    case "query": {
      const [target, ...words] = args.split(" ");
      if (!target) break;
      if (words.length) say(target, words.join(" "));
      activate(conversation(target).key);
      break;
    }
    case "nick":
      if (args) send("NICK", args);
      break;
    case "topic":
      if (conv && conv.channel) send("TOPIC", conv.name, args);
      break;
    case "quit":
      leave();
      break;
    case "quote":
    case "raw":
      if (args) state.socket && state.socket.readyState === WebSocket.OPEN && state.socket.send(args);
      break;
    default:
      showError(`Unknown command /${verb}. Try /join, /part, /me, /msg, /nick, /topic, /quit.`);
  }
}

ui.login.addEventListener("submit", (event) => {
  event.preventDefault();
  const nick = ui.nick.value.trim();
  if (!nick) return;
  ui.loginError.textContent = "";
  state.wantedNick = nick;
  state.password = ui.password.value;
  state.account = "";
  ui.password.value = "";
  state.leaving = false;
  state.nickTries = 0;
  state.backoff = BACKOFF_FIRST;
  state.conversations.clear();
  state.order = [];
  state.active = null;
  conversation(SERVER);
  ui.login.hidden = true;
  ui.chat.hidden = false;
  ui.leave.hidden = false;
  activate(SERVER);
  ui.message.focus();
  connect();
});

ui.compose.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.message.value;
  if (!text.trim()) return;
  ui.message.value = "";
  submitMessage(text);
});

ui.leave.addEventListener("click", leave);

ui.peopleToggle.addEventListener("click", () => {
  const open = ui.peoplePanel.classList.toggle("open");
  ui.peopleToggle.setAttribute("aria-expanded", String(open));
  if (open) ui.people.querySelector("button")?.focus();
});

ui.peopleClose.addEventListener("click", () => {
  closePeoplePanel();
  ui.peopleToggle.focus();
});

ui.peoplePanel.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && ui.peoplePanel.classList.contains("open")) {
    closePeoplePanel();
    ui.peopleToggle.focus();
  }
});

// Alt+Up / Alt+Down: previous / next conversation, from anywhere.
document.addEventListener("keydown", (event) => {
  if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown") || !state.order.length) return;
  event.preventDefault();
  const here = state.order.indexOf(state.active);
  const step = event.key === "ArrowUp" ? -1 : 1;
  activate(state.order[(here + step + state.order.length) % state.order.length]);
});

window.addEventListener("pagehide", () => {
  if (state.socket) send("QUIT", "Page closed");
});

ui.nick.focus();
