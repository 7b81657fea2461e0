// The playground page: draws the state the server sends and turns clicks into API calls.
// Text from the bot is never parsed as HTML here: it arrives as plain text plus Telegram's
// message entities (bold, links, ...), and the page builds DOM nodes from them, as a Telegram
// client does. Nothing a message says can run as script on this page.
"use strict";

const $ = (id) => document.getElementById(id);
const els = {
  people: $("people"),
  messages: $("messages"),
  suggestions: $("suggestions"),
  menu: $("menu"),
  menuButton: $("menu-button"),
  composer: $("composer"),
  input: $("input"),
  send: $("send"),
  photo: $("photo"),
  video: $("video"),
  subtitle: $("chat-subtitle"),
  appLanguage: $("app-language"),
  clockTime: $("clock-time"),
  clockDate: $("clock-date"),
  toast: $("toast"),
};

let state = null;
let current = Number(localStorage.getItem("playground.person")) || null;
let busy = 0;
let typing = 0; // requests the bot answers in the chat (not clock moves)
const seen = {}; // person id -> newest bot message id already looked at
let noticeSeen = null;
let toastTimer = null;

// --- talking to the server ------------------------------------------------------------------

// One request at a time, in the order they were made: the server handles each on its own
// connection, so a language chosen just before "/start" could otherwise arrive after it and
// Bob was greeted in English.
let lastRequest = Promise.resolve();

async function api(path, body, chat = true) {
  busy += 1;
  if (chat) typing += 1;
  render();
  const previous = lastRequest;
  let done;
  lastRequest = new Promise((resolve) => { done = resolve; });
  try {
    await previous;
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) {
      showToast(data.error || `The server answered ${response.status}`, true);
      return;
    }
    accept(data);
  } catch (error) {
    showToast("The playground is not answering. Is `patientbot run` still running?", true);
  } finally {
    done();
    busy -= 1;
    if (chat) typing -= 1;
    render();
  }
}

async function poll() {
  for (;;) {
    const since = state ? state.version : -1;
    try {
      const response = await fetch(`/api/state?since=${since}&wait=20`);
      if (response.ok) {
        accept(await response.json());
        continue;
      }
    } catch (error) {
      // The server restarted or stopped; try again shortly.
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function accept(next) {
  // A long poll answered just before a button's own reply may arrive after it: keep the newer.
  // A restarted playground counts from zero again, under a new instance.
  if (state && next.instance === state.instance && next.version <= state.version) return;
  const first = state === null || next.instance !== state.instance;
  state = next;
  if (!state.people.some((p) => p.id === current)) current = state.people[0].id;
  if (first) {
    for (const person of state.people) seen[person.id] = newestBotId(person.id);
    noticeSeen = Math.max(0, ...state.notices.map((n) => n.seq));
  }
  seen[current] = newestBotId(current);
  for (const notice of state.notices) {
    if (notice.seq > noticeSeen) {
      noticeSeen = notice.seq;
      if (notice.person === current) showToast(notice.text, notice.alert);
    }
  }
  render();
}

// --- drawing ---------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function render() {
  if (!state) return;
  const person = state.people.find((p) => p.id === current);
  renderClock();
  renderPeople();
  renderMessages(person);
  renderSuggestions(person);
  renderMenu(person);
  renderAppLanguage(person);
  els.subtitle.textContent = `bot · you are ${person.name}, ${roleName(person.role)}`;
  els.input.placeholder = `Message PatientBot as ${person.name}`;
  // Typing stays possible while the bot or the clock is busy; the server queues it as
  // Telegram would. Buttons wait, so a double click cannot press a keyboard twice.
  for (const button of document.querySelectorAll(".clock-button")) button.disabled = busy > 0;
}

function renderAppLanguage(person) {
  const select = els.appLanguage;
  const codes = state.languages.map((language) => language.code).join(" ");
  if (select.dataset.codes !== codes) {
    select.replaceChildren(...state.languages.map((language) => h("option", { value: language.code }, language.name)));
    select.dataset.codes = codes;
  }
  select.value = person.language;
  select.setAttribute("aria-label", `${person.name}'s Telegram app language`);
}

function renderClock() {
  const clock = state.clock;
  els.clockTime.textContent = clock.time;
  els.clockDate.textContent = `${clock.local} · ${clock.abbreviation || clock.zone}`;
  els.clockTime.parentElement.title = `Simulated time in ${clock.zone} (${clock.iso})`;
}

function renderPeople() {
  const rows = state.people.map((person) => {
    const messages = state.chats[person.id] || [];
    const last = messages[messages.length - 1];
    const unread = messages.filter((m) => m.from === "bot" && m.id > (seen[person.id] || 0));
    const preview = last ? previewOf(last) : "No messages yet";
    return h(
      "button",
      {
        type: "button",
        class: `person${person.id === current ? " active" : ""}`,
        "data-person": person.name,
        "aria-current": person.id === current ? "true" : null,
        onclick: () => choose(person.id),
      },
      avatar(person),
      h(
        "span",
        { class: "person-text" },
        h("span", { class: "person-name" }, person.name, h("span", { class: `role ${person.role}` }, roleName(person.role))),
        h("span", { class: "person-preview" }, preview),
      ),
      unread.length ? h("span", { class: "badge", "aria-label": `${unread.length} new` }, unread.length) : null,
    );
  });
  els.people.replaceChildren(...rows);
}

function renderMessages(person) {
  const box = els.messages;
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const switched = box.dataset.person !== String(person.id);
  const messages = state.chats[person.id] || [];
  const nodes = [];
  let day = null;
  for (const message of messages) {
    if (message.day !== day) {
      day = message.day;
      nodes.push(h("div", { class: "day" }, h("span", {}, day)));
    }
    nodes.push(renderMessage(person, message));
  }
  if (!messages.length) nodes.push(emptyChat(person));
  if (typing > 0) nodes.push(h("div", { class: "typing" }, "PatientBot is typing", h("i"), h("i"), h("i")));
  box.replaceChildren(...nodes);
  box.dataset.person = String(person.id);
  const stick = switched || nearBottom;
  box.dataset.stick = stick ? "1" : "0";
  if (stick) box.scrollTop = box.scrollHeight;
}

function renderMessage(person, message) {
  const mine = message.from === "person";
  const bubble = h("div", { class: `bubble ${mine ? "mine" : "theirs"}` });
  if (message.kind === "photo" || message.kind === "video") {
    const picture = h("img", { src: message.file_url, alt: message.kind === "photo" ? "Photo" : "Video" });
    // A picture gets its height only once loaded: keep the newest message in view.
    picture.addEventListener("load", () => {
      if (els.messages.dataset.stick === "1") els.messages.scrollTop = els.messages.scrollHeight;
    });
    if (message.width && message.height) picture.style.aspectRatio = `${message.width} / ${message.height}`;
    const media = h("div", { class: `media ${message.kind}` }, picture);
    if (message.kind === "video") media.append(h("span", { class: "play", "aria-hidden": "true" }, "▶"));
    bubble.append(media);
  } else if (message.kind === "document") {
    bubble.append(
      h(
        "a",
        { class: "document", href: message.file_url, download: message.file_name || "file" },
        h("span", { class: "document-icon", "aria-hidden": "true" }, "⬇"),
        h("span", {}, message.file_name || "file"),
      ),
    );
  }
  if (message.text) bubble.append(h("div", { class: "text" }, renderText(message.text, message.entities || [])));
  bubble.append(
    h(
      "span",
      { class: "meta" },
      message.edited ? h("span", { class: "edited", title: `edited at ${message.changed}` }, "edited") : null,
      message.time,
    ),
  );
  const wrapper = h("div", { class: `message ${mine ? "from-person" : "from-bot"}`, "data-id": message.id }, bubble);
  if (message.buttons && message.buttons.length) wrapper.append(keyboard(person, message));
  return wrapper;
}

function keyboard(person, message) {
  return h(
    "div",
    { class: "keyboard" },
    message.buttons.map((row) =>
      h(
        "div",
        { class: "keyboard-row" },
        row.map((button) => {
          if (button.url) {
            const href = safeUrl(button.url);
            return h("a", { class: "key link", href, target: "_blank", rel: "noopener noreferrer" }, button.text, h("span", { class: "arrow", "aria-hidden": "true" }, "↗"));
          }
          return h(
            "button",
            {
              type: "button",
              class: "key",
              disabled: busy > 0 || button.data === undefined,
              onclick: () => api("/api/press", { user: person.id, message_id: message.id, callback_data: button.data }),
            },
            button.text,
          );
        }),
      ),
    ),
  );
}

function emptyChat(person) {
  // The suggestions follow the database: no /start among them means this person has joined.
  const joined = !(person.suggestions || []).some((text) => text.startsWith("/start "));
  const hint = person.role === "therapist"
    ? "You are the therapist. Try /help, then /report Shoulder Therapy 1 once a patient has answered."
    : joined
      ? "You have joined the demo. Send /tasks for your open check-ins, or move the clock on."
      : "Join the demo group with /start SHOULDER1, then move the clock to 11:00 for the first check-in.";
  return h("div", { class: "empty" }, h("strong", {}, `This is ${person.name}'s chat with the bot.`), h("p", {}, hint));
}

function renderSuggestions(person) {
  const chips = (person.suggestions || []).map((text) => {
    const command = person.commands.find((c) => `/${c.command}` === text.split(" ")[0]);
    return h(
      "button",
      {
        type: "button",
        class: "chip",
        title: command ? command.description : "Fill the message box",
        onclick: () => {
          els.input.value = text.includes(" ") || !command ? text : `${text} `;
          els.input.focus();
        },
      },
      text,
    );
  });
  els.suggestions.replaceChildren(...chips);
}

// The command menu Telegram shows behind its "/" button, from the bot's own setMyCommands.
function renderMenu(person) {
  const items = person.commands.map((command) =>
    h(
      "button",
      {
        type: "button",
        class: "menu-item",
        role: "menuitem",
        onclick: () => {
          toggleMenu(false);
          els.input.value = `/${command.command} `;
          els.input.focus();
        },
      },
      h("span", { class: "menu-command" }, `/${command.command}`),
      h("span", { class: "menu-description" }, command.description),
    ),
  );
  els.menu.replaceChildren(...items);
  els.menuButton.hidden = items.length === 0;
}

function toggleMenu(open) {
  els.menu.hidden = !open;
  els.menuButton.setAttribute("aria-expanded", String(open));
}

function avatar(person) {
  return h("span", { class: `avatar ${person.role}`, "aria-hidden": "true" }, person.name.slice(0, 1));
}

function roleName(role) {
  return role === "therapist" ? "therapist" : "patient";
}

function previewOf(message) {
  const who = message.from === "person" ? "You: " : "";
  if (message.text) return who + message.text.split("\n")[0];
  if (message.kind === "photo") return `${who}Photo`;
  if (message.kind === "video") return `${who}Video`;
  return `${who}${message.file_name || "File"}`;
}

function newestBotId(personId) {
  const bots = (state.chats[personId] || []).filter((m) => m.from === "bot");
  return bots.length ? bots[bots.length - 1].id : 0;
}

function choose(personId) {
  current = personId;
  toggleMenu(false);
  localStorage.setItem("playground.person", String(personId));
  seen[personId] = newestBotId(personId);
  render();
  els.input.focus();
}

// --- Telegram's entities to DOM ----------------------------------------------------------------

function renderText(text, entities) {
  const fragment = document.createDocumentFragment();
  // Entity offsets count UTF-16 code units, exactly as JavaScript strings index.
  const sorted = [...entities].sort((a, b) => a.offset - b.offset || b.length - a.length);
  build(fragment, text, 0, text.length, sorted, false);
  return fragment;
}

function build(parent, text, start, end, entities, inLink) {
  let position = start;
  let i = 0;
  while (i < entities.length) {
    const entity = entities[i];
    const entityEnd = Math.min(entity.offset + entity.length, end);
    if (entity.offset >= end) break;
    let j = i + 1;
    while (j < entities.length && entities[j].offset < entityEnd) j += 1;
    plain(parent, text.slice(position, entity.offset), inLink);
    const node = elementFor(entity, text.slice(entity.offset, entityEnd));
    build(node, text, entity.offset, entityEnd, entities.slice(i + 1, j), inLink || node.tagName === "A");
    parent.append(node);
    position = entityEnd;
    i = j;
  }
  plain(parent, text.slice(position, end), inLink);
}

function elementFor(entity, covered) {
  switch (entity.type) {
    case "bold": return h("strong");
    case "italic": return h("em");
    case "underline": return h("u");
    case "strikethrough": return h("s");
    case "code": return h("code");
    case "pre": return h("pre");
    case "blockquote":
    case "expandable_blockquote": return h("blockquote");
    case "spoiler": {
      const node = h("span", { class: "spoiler", title: "Show" });
      node.addEventListener("click", () => node.classList.add("shown"));
      return node;
    }
    case "text_link":
    case "url": {
      const href = safeUrl(entity.type === "url" ? covered : entity.url);
      return href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }) : h("span");
    }
    default: return h("span");
  }
}

const URL_PATTERN = /https?:\/\/[^\s<>"]+/g;

// Telegram turns bare web addresses into links even without an entity; so does the page.
function plain(parent, text, inLink) {
  if (!text) return;
  if (inLink) {
    parent.append(text);
    return;
  }
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = match[0].replace(/[.,;:!?)\]]+$/, "");
    parent.append(text.slice(last, match.index));
    parent.append(h("a", { href: safeUrl(url), target: "_blank", rel: "noopener noreferrer" }, url));
    last = match.index + url.length;
  }
  parent.append(text.slice(last));
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

// --- notices -----------------------------------------------------------------------------------

function showToast(text, alert) {
  els.toast.textContent = text;
  els.toast.className = `toast${alert ? " alert" : ""}`;
  els.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { els.toast.hidden = true; }, alert ? 6000 : 3000);
}

// --- wiring -------------------------------------------------------------------------------------

els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = els.input.value;
  if (!text.trim()) return;
  els.input.value = "";
  api("/api/send", { user: current, text });
});
els.appLanguage.addEventListener("change", () =>
  api("/api/language", { user: current, language: els.appLanguage.value }, false),
);
els.photo.addEventListener("click", () => api("/api/photo", { user: current }));
els.video.addEventListener("click", () => api("/api/video", { user: current }));
for (const button of document.querySelectorAll(".clock-button")) {
  button.addEventListener("click", () => api("/api/clock", { advance: button.dataset.advance }, false));
}
els.toast.addEventListener("click", () => { els.toast.hidden = true; });
els.menuButton.addEventListener("click", () => toggleMenu(els.menu.hidden));
document.addEventListener("keydown", (event) => { if (event.key === "Escape") toggleMenu(false); });

poll();
