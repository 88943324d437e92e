// The classroom's chat: messages with their time, split into earlier sessions and this one (the join ack's
// `session_started_at`), the length limit shown while typing and a refusal next to the field for an empty or
// over-long message. The rules for times, sessions and length are DOM-free functions; ChatPanel only touches
// the document when it is built.

/** "HH:MM" in the browser's time zone for an ISO time; "" when it cannot be read. */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const two = (n) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}`;
}

/** Whether `message` was sent before this live classroom opened (`sessionStartedAt`, ISO). */
export function fromEarlierSession(message, sessionStartedAt) {
  const started = Date.parse(sessionStartedAt ?? "");
  const sent = Date.parse(message.sent_at ?? "");
  if (Number.isNaN(started) || Number.isNaN(sent)) return false;
  return sent < started;
}

/** {earlier, current}: the messages (in the order given) sent before this session opened, and since. */
export function chatSessions(messages, sessionStartedAt) {
  const earlier = [];
  const current = [];
  for (const message of messages) (fromEarlierSession(message, sessionStartedAt) ? earlier : current).push(message);
  return { earlier, current };
}

/** A message's length as the server counts it: characters (code points) once the ends are trimmed. */
export function messageLength(text) {
  return [...text.replace(/\r\n?/g, "\n").trim()].length;
}

/** Why the server would refuse this message (empty or longer than `maxLength`), or null. */
export function messageProblem(text, maxLength) {
  const length = messageLength(text);
  if (length === 0) return "A message cannot be empty.";
  if (length > maxLength) return `A message can be at most ${maxLength} characters.`;
  return null;
}

/** The counter shown while typing: "12 / 2000". */
export function lengthText(text, maxLength) {
  return `${messageLength(text)} / ${maxLength}`;
}

export const EARLIER_SESSIONS = "Earlier sessions";
export const THIS_SESSION = "This session";

export class ChatPanel {
  /**
   * @param parts.log the role="log" element around the list (new messages are read out from it)
   * @param parts.list the <ul> of messages
   * @param parts.form, parts.input, parts.counter, parts.error: the message field, its counter and refusal
   * @param actions.send (text) → Promise of the chat ack {message}; rejects with the server's error
   * @param actions.onError (err): a failure that is not about the message itself (shown as a notice)
   */
  constructor({ log, list, form, input, counter, error }, { send, onError }) {
    Object.assign(this, { log, list, form, input, counter, error });
    this._send = send;
    this._onError = onError;
    this.ids = new Set();
    this.maxLength = 2000;
    this.sessionStartedAt = null;
    this.selfId = null;
    this.enabled = false;

    const describedBy = [counter.id, error.id].filter(Boolean).join(" ");
    if (describedBy) input.setAttribute("aria-describedby", describedBy);
    input.removeAttribute("maxlength"); // an over-long paste is refused in words instead of cut silently
    input.addEventListener("input", () => this._typed());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._submit();
    });
    this._typed();
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    for (const control of this.form.elements) control.disabled = !enabled;
  }

  /** Starts over from a join ack: its chat history, `session_started_at` and `limits.chat_max_length`. */
  reset({ messages = [], sessionStartedAt = null, selfId = null, maxLength = null }) {
    this.sessionStartedAt = sessionStartedAt;
    this.selfId = selfId;
    if (maxLength) this.maxLength = maxLength;
    this.ids.clear();
    // Refilling the history is not news: screen readers wait until the log is complete.
    this.log.setAttribute("aria-busy", "true");
    this.list.replaceChildren();
    const { earlier, current } = chatSessions(messages, sessionStartedAt);
    if (earlier.length > 0) {
      this.list.append(divider(EARLIER_SESSIONS));
      for (const message of earlier) this._appendItem(message);
      this.list.append(divider(THIS_SESSION));
    }
    for (const message of current) this._appendItem(message);
    this.list.scrollTop = this.list.scrollHeight;
    this.log.removeAttribute("aria-busy");
    this._typed();
  }

  /** A message that arrived (a `chat` event or our own ack); each message is shown once. */
  append(message) {
    const list = this.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    this._appendItem(message);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  _appendItem(message) {
    if (this.ids.has(message.id)) return;
    this.ids.add(message.id);
    const item = document.createElement("li");
    item.className = "chat-message";
    item.dataset.messageId = message.id;
    if (message.user_id === this.selfId) item.classList.add("own");
    if (message.sent_at) {
      item.dataset.sentAt = message.sent_at;
      const time = document.createElement("time");
      time.className = "chat-time";
      time.dateTime = message.sent_at;
      time.textContent = formatTime(message.sent_at);
      item.append(time, " ");
    }
    const author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = message.display_name;
    const text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = message.text;
    item.append(author, ": ", text);
    this.list.append(item);
  }

  _typed() {
    const text = this.input.value;
    this.counter.textContent = lengthText(text, this.maxLength);
    const over = messageLength(text) > this.maxLength;
    this.counter.classList.toggle("over", over);
    // The refusal goes away as soon as the text would be accepted; an over-long text says so while typing.
    if (over) this._refuse(messageProblem(text, this.maxLength));
    else if (messageLength(text) > 0) this._refuse(null);
  }

  _refuse(problem) {
    // The refusal's element stays on the page (a live region), empty while there is nothing to say.
    this.error.textContent = problem ?? "";
    if (problem) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }

  async _submit() {
    if (!this.enabled) return;
    const problem = messageProblem(this.input.value, this.maxLength);
    if (problem) {
      this._refuse(problem);
      this.input.focus();
      // The refusal sits under the field: bring it into a scrolled panel's view too.
      this.error.scrollIntoView?.({ block: "nearest" });
      return;
    }
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const ack = await this._send(this.input.value.trim());
      this.input.value = "";
      this._refuse(null);
      this._typed();
      if (ack?.message) this.append(ack.message);
    } catch (err) {
      if (err?.code === "invalid") this._refuse(err.message);
      else this._onError?.(err);
    } finally {
      button.disabled = !this.enabled;
      this.input.focus();
      if (this.error.textContent) this.error.scrollIntoView?.({ block: "nearest" });
    }
  }
}

function divider(text) {
  const item = document.createElement("li");
  item.className = "chat-divider";
  const heading = document.createElement("h3");
  heading.textContent = text;
  item.append(heading);
  return item;
}
