// A bot built on irc-framework (the IRC library under Kiwi IRC), connecting over WebSocket.
//
// Usage: node irc_framework_bot.js HOST PORT NICK
// Prints one JSON object per line for what happens (registered, join, message, quit, close);
// reads one JSON object per line for what to do: {"say": [target, text]}, {"quit": reason}.

"use strict";

const readline = require("node:readline");

// Node 22 has a WebSocket of its own; older versions use the ws package.
globalThis.WebSocket ??= require("ws");

const IRC = require("irc-framework");
const websocketTransport = require("irc-framework/src/transports/websocket");

const [host, port, nick] = process.argv.slice(2);
const client = new IRC.Client();

function report(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

client.on("registered", () => report({ event: "registered", nick: client.user.nick }));
client.on("join", (e) => report({ event: "join", nick: e.nick, channel: e.channel }));
client.on("privmsg", (e) => report({ event: "message", nick: e.nick, target: e.target, text: e.message }));
client.on("quit", (e) => report({ event: "quit", nick: e.nick, reason: e.message }));
client.on("close", () => {
  report({ event: "close" });
  process.exit(0);
});

client.connect({
  host,
  port: Number(port),
  nick,
  username: nick,
  gecos: "irc-framework over WebSocket",
  path: "/irc",
  transport: websocketTransport,
  websocket_protocol: "text.ircv3.net",
  auto_reconnect: false,
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const order = JSON.parse(line);
  if (order.say) client.say(order.say[0], order.say[1]);
  if (order.quit !== undefined) client.quit(order.quit);
});
