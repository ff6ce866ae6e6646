// The Roomcast console: plain JavaScript, no build step. It reads the stack through /console/api/
// (never with AWS credentials) and watches rooms over the real WebSocket API with real tokens.
"use strict";

const API = "api/";
const OUTCOME_POLL_MS = 500;
const OUTCOME_GIVE_UP_MS = 120000;
const RECONNECT_MAX_MS = 10000;
let config = { stage: "v1", commandTypes: [] };

// ---- small helpers ---------------------------------------------------------------------------

async function api(method, path, body) {
  const response = await fetch(API + path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

const $ = (selector, root = document) => root.querySelector(selector);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function wsBase() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/${config.stage}`;
}

// ---- commands --------------------------------------------------------------------------------

function commandType() {
  return config.commandTypes.find((t) => t.type === $("#command-type").value);
}

// The form is driven by the command types the domain declares (GET api/config): roomId and userId
// come from the Room and User fields, every other field of the chosen type gets an input here.
function renderCommandFields() {
  const holder = $("#command-fields");
  holder.replaceChildren();
  for (const field of commandType().fields) {
    if (field.name === "roomId" || field.name === "userId") continue;
    const id = `field-${field.name}`;
    const long = field.maxLength === null || field.maxLength > 200;
    const input = long ? el("textarea", { id, rows: 2 }) : el("input", { id, autocomplete: "off" });
    input.name = field.name;
    input.required = field.required;
    if (field.maxLength) input.maxLength = field.maxLength;
    holder.append(el("label", { htmlFor: id, text: field.name }), input);
  }
}

async function sendCommand(event) {
  event.preventDefault();
  $("#command-error").textContent = "";
  const body = { type: $("#command-type").value, roomId: $("#room").value.trim(), userId: $("#actor").value.trim() };
  for (const input of $("#command-fields").querySelectorAll("input, textarea")) body[input.name] = input.value;
  let sent;
  try {
    sent = await api("POST", "commands", body);
  } catch (error) {
    $("#command-error").textContent = error.message;
    return;
  }
  const text = $("#field-text");
  if (text) text.value = "";
  const outcome = el("td", { className: "outcome pending", text: "sent, waiting for its outcome" });
  const logs = el("button", { type: "button", text: "Log lines" });
  logs.addEventListener("click", () => showLogs(sent.commandId));
  const row = el(
    "tr",
    { "data-command-id": sent.commandId, title: `commandId ${sent.commandId}` },
    el("td", { text: body.type }),
    el("td", { text: body.userId }),
    el("td", { text: body.roomId }),
    outcome,
    el("td", {}, logs),
  );
  $("#commands tbody").prepend(row);
  rememberRoom(body.roomId);
  followOutcome(sent.commandId, outcome);
}

// Rooms this page has sent commands to, offered when picking a room (the API has no list of rooms).
function rememberRoom(room) {
  const known = [...$("#rooms").options].map((option) => option.value);
  if (!known.includes(room)) $("#rooms").append(el("option", { value: room }));
}

async function followOutcome(commandId, cell) {
  const deadline = Date.now() + OUTCOME_GIVE_UP_MS;
  while (Date.now() < deadline) {
    try {
      const outcome = await api("GET", `outcomes/${encodeURIComponent(commandId)}`);
      if (outcome.status !== "pending") {
        cell.textContent = outcome.summary;
        cell.className = `outcome ${outcome.status}`;
        return;
      }
    } catch (error) {
      cell.textContent = `cannot read the outcome: ${error.message}`;
    }
    await sleep(OUTCOME_POLL_MS);
  }
  cell.textContent = "no outcome recorded yet (is the stack applying commands?)";
}

// ---- watch panes -----------------------------------------------------------------------------

class Pane {
  constructor(user, room) {
    this.user = user;
    this.room = room;
    this.comments = new Map(); // commentId -> comment, rendered in position order
    this.lastPosition = null;
    this.closed = false;
    this.deleted = false;
    this.backoff = 1000;
    this.cursor = null;
    this.node = $("#pane-template").content.firstElementChild.cloneNode(true);
    this.node.dataset.user = user;
    this.node.dataset.room = room;
    $(".pane-title", this.node).textContent = `${user} in ${room}`;
    this.node.setAttribute("aria-label", `pane of ${user} in ${room}`);
    $(".pane-subscribe", this.node).addEventListener("click", () => this.subscribe());
    $(".pane-drop", this.node).addEventListener("click", () => this.socket && this.socket.close());
    $(".pane-close", this.node).addEventListener("click", () => this.close());
    $(".history-form", this.node).addEventListener("submit", (event) => this.history(event, false));
    $(".history-next", this.node).addEventListener("click", (event) => this.history(event, true));
    $("#panes").prepend(this.node);
    this.connect();
  }

  status(text) {
    $(".pane-status", this.node).textContent = text;
  }

  async connect() {
    this.status("connecting");
    let token;
    try {
      token = (await api("POST", "tokens", { userId: this.user })).token;
    } catch (error) {
      this.status(`cannot get a token: ${error.message}`);
      return;
    }
    const socket = new WebSocket(`${wsBase()}?token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.backoff = 1000;
      this.subscribe();
    });
    socket.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => this.dropped(socket, event));
  }

  // Subscribes from the last position seen, so a reconnect replays what was missed.
  subscribe() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const request = { action: "subscribe", roomId: this.room, requestId: "subscribe" };
    if (this.lastPosition) request.since = this.lastPosition;
    this.status(this.lastPosition ? `resubscribing since ${this.lastPosition}` : "subscribing");
    this.socket.send(JSON.stringify(request));
  }

  dropped(socket, event) {
    if (socket !== this.socket || this.closed) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, RECONNECT_MAX_MS);
    this.status(`connection closed (${event.code}); reconnecting in ${wait / 1000} s`);
    setTimeout(() => this.closed || this.connect(), wait);
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close();
    this.node.remove();
  }

  receive(frame) {
    switch (frame.type) {
      case "comments":
        for (const comment of frame.comments) this.addComment(comment);
        break;
      case "memberJoined":
      case "memberLeft":
        this.presence(frame);
        break;
      case "roomDeleted": {
        this.deleted = true;
        const banner = $(".pane-deleted", this.node);
        banner.textContent = `Room ${frame.roomId} was deleted.`;
        banner.hidden = false;
        this.status("room deleted: no longer subscribed");
        break;
      }
      case "subscribed":
        $(".pane-deleted", this.node).hidden = true; // a room created again under the same id
        this.status(`subscribed as ${this.user}` + (frame.replayed ? `, ${frame.replayed} replayed` : ""));
        break;
      case "history":
        this.showHistory(frame);
        break;
      case "error":
        this.status(`refused: ${frame.code}: ${frame.message}`);
        break;
      default:
        break; // anything else is not Roomcast's (docs/websocket.md)
    }
  }

  // Live frames and replays may repeat or arrive out of order: dedupe by commentId, order by position.
  addComment(comment) {
    if (this.comments.has(comment.commentId)) return;
    this.comments.set(comment.commentId, comment);
    if (!this.lastPosition || comment.position > this.lastPosition) this.lastPosition = comment.position;
    const list = $(".comments", this.node);
    const item = commentItem(comment);
    const after = [...list.children].find((node) => node.dataset.position > comment.position);
    list.insertBefore(item, after || null);
  }

  presence(frame) {
    const verb = frame.type === "memberJoined" ? "joined" : "left";
    const item = el("li", { text: `${frame.userId} ${verb}` });
    item.dataset.event = frame.type;
    $(".presence", this.node).append(item);
    if (frame.type === "memberLeft" && frame.userId === this.user) this.status("left the room: no longer subscribed");
  }

  history(event, next) {
    event.preventDefault();
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const request = {
      action: "history",
      roomId: this.room,
      mode: $(".history-mode", this.node).value,
      limit: Number($(".history-limit", this.node).value) || 20,
      requestId: "history",
    };
    const from = $(".history-from", this.node).value.trim();
    const to = $(".history-to", this.node).value.trim();
    if (from && (request.mode === "after" || request.mode === "between")) request.from = from;
    if (to && request.mode === "between") request.to = to;
    if (next && this.cursor) request.cursor = this.cursor;
    if (!next) $(".history-comments", this.node).replaceChildren();
    this.socket.send(JSON.stringify(request));
  }

  showHistory(frame) {
    const list = $(".history-comments", this.node);
    for (const comment of frame.comments) list.append(commentItem(comment));
    this.cursor = frame.cursor;
    $(".history-next", this.node).disabled = !frame.cursor;
    if (!frame.comments.length && !list.children.length) list.append(el("li", { text: "no comments" }));
  }
}

function commentItem(comment) {
  const item = el(
    "li",
    { title: `position ${comment.position}` },
    el("span", { className: "author", text: comment.userId }),
    el("span", { className: "text", text: comment.text }),
    el("time", { dateTime: comment.createdAt, text: comment.createdAt.slice(11, 23) }),
  );
  item.dataset.position = comment.position;
  item.dataset.commentId = comment.commentId;
  return item;
}

// ---- queues and logs -------------------------------------------------------------------------

async function refreshQueue(path, list, status, redrive) {
  status.textContent = "reading";
  let messages;
  try {
    messages = (await api("GET", path)).messages;
  } catch (error) {
    status.textContent = `cannot read the queue: ${error.message}`;
    return;
  }
  list.replaceChildren();
  status.textContent = messages.length ? `${messages.length} message(s)` : "empty";
  for (const message of messages) {
    const reason = message.attributes.ErrorCode
      ? `${message.attributes.ErrorCode}: ${message.attributes.ErrorMessage || ""}`
      : "no reason attribute (moved by SQS after its last receive, or not a command's)";
    const item = el(
      "li",
      { "data-message-id": message.messageId },
      el("p", { className: "reason", text: reason }),
      el("pre", { text: message.body }),
      el("p", { className: "hint", text: `messageId ${message.messageId}, sent ${new Date(message.sentAt).toISOString()}` }),
    );
    if (redrive) {
      const button = el("button", { type: "button", text: "Redrive to the command queue" });
      button.addEventListener("click", async () => {
        try {
          const done = await api("POST", `dlq/${encodeURIComponent(message.messageId)}/redrive`);
          status.textContent = `redriven as message ${done.messageId}`;
          item.remove();
        } catch (error) {
          status.textContent = `redrive failed: ${error.message}`;
        }
      });
      item.append(button);
    }
    list.append(item);
  }
}

async function showLogs(commandId) {
  $("#logs-command-id").value = commandId;
  const status = $("#logs-status");
  status.textContent = "reading";
  try {
    const lines = (await api("GET", `logs?commandId=${encodeURIComponent(commandId)}`)).lines;
    $("#log-lines").replaceChildren(
      ...lines.map((line) => el("li", {}, el("span", { className: "source", text: line.source }), el("code", { text: line.line }))),
    );
    status.textContent = lines.length ? `${lines.length} line(s) for ${commandId}` : `no log line names ${commandId} yet`;
  } catch (error) {
    status.textContent = error.message;
  }
  $("#logs").scrollIntoView({ block: "nearest" });
}

// ---- start -----------------------------------------------------------------------------------

async function start() {
  config = await api("GET", "config");
  const select = $("#command-type");
  for (const type of config.commandTypes) select.append(el("option", { value: type.type, text: type.type }));
  select.value = "createChatRoom";
  renderCommandFields();
  select.addEventListener("change", renderCommandFields);
  $("#command-form").addEventListener("submit", sendCommand);
  $("#pane-form").addEventListener("submit", (event) => {
    event.preventDefault();
    new Pane($("#watch-user").value.trim(), $("#room").value.trim());
  });
  $("#dlq-refresh").addEventListener("click", () => refreshQueue("dlq", $("#dlq"), $("#dlq-status"), true));
  $("#sfq-refresh").addEventListener("click", () => refreshQueue("stream-failures", $("#sfq"), $("#sfq-status"), false));
  $("#logs-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showLogs($("#logs-command-id").value.trim());
  });
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  $("#command-error").textContent = `cannot load the console: ${error.message}`;
});
