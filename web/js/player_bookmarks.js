// Editing a recording's bookmarks after the class, on the player (/recordings/{id}), for those who may manage
// the recording (the Recording's `can_manage`; the server checks again). "Edit bookmarks" gives each
// bookmark chapter Edit and Delete: Edit opens a form under it (the code, from the recording's own codes
// list; the remark; the time, which "Move here" sets to the moment playing now), sent as
// PATCH /api/recordings/{id}/bookmarks/{bookmark_id}; Delete asks first, then DELETE. After either, the
// player reads chapters, bookmarks and timeline again (`onChanged`). Errors are shown in words next to
// their field (web/js/forms.js). Without the right, nothing of this is drawn.
import { ApiError, request } from "/static/js/api.js";
import { clearFieldErrors, reportFormError } from "/static/js/forms.js";
import { clearMessage, el, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import { formatMediaTime } from "/static/js/timeline.js";

const REMARK_MAX = 2000;

function byId(id) {
  return document.getElementById(id);
}

/** What a bookmark is called in the page's words: its chapter's title, else its label, code or remark. */
function bookmarkName(bookmark, chapter) {
  const title = chapter?.title || [bookmark?.label || bookmark?.code, bookmark?.remark].filter(Boolean).join(" — ");
  return title || "untitled bookmark";
}

/**
 * The edit controls of the player's bookmark chapters. `recording`: the Recording JSON; `currentMs()`: the
 * media time playing now; `onChanged(focus)`: reads the lists again and redraws them, then calls `focus()`.
 */
export class BookmarkEditor {
  constructor({ recording, currentMs, onChanged }) {
    this.recording = recording;
    this.currentMs = currentMs;
    this.onChanged = onChanged;
    this.enabled = Boolean(recording?.can_manage);
    this.editing = false; // "Edit bookmarks" pressed
    this.bookmarks = new Map(); // id -> Bookmark, as last read
    this.openForm = null; // {bookmarkId, form}
    this.deleting = null; // {bookmarkId, name, index}
    this.tools = byId("bookmark-tools");
    this.toggle = byId("edit-bookmarks");
    this.status = byId("bookmark-status");
    this.dialog = byId("delete-bookmark-dialog");
    this.dialogText = byId("delete-bookmark-text");
    this.dialogError = byId("delete-bookmark-error");
    this.confirm = byId("delete-bookmark-confirm");
    this.cancel = byId("delete-bookmark-cancel");
    if (!this.enabled) return;
    this.toggle.addEventListener("click", () => this.setEditing(!this.editing));
    this.confirm.addEventListener("click", () => this.confirmDelete());
    this.cancel.addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => this.afterDialog());
  }

  /** The bookmarks as last read (null: they could not be read, and nothing can be edited). */
  setBookmarks(bookmarks) {
    this.bookmarks = new Map((bookmarks ?? []).map((bookmark) => [bookmark.id, bookmark]));
    this.loaded = Array.isArray(bookmarks);
  }

  /** Shows "Edit bookmarks" when there is a bookmark to edit (and the right to). */
  showTools(chapters) {
    if (!this.enabled) return;
    const any = chapters.some((chapter) => this.editable(chapter));
    this.tools.hidden = !any;
    if (!any && this.editing) this.setEditing(false);
  }

  editable(chapter) {
    return this.enabled && this.loaded && chapter.kind === "bookmark" && this.bookmarks.has(chapter.bookmark_id);
  }

  setEditing(on) {
    this.editing = on;
    this.toggle.setAttribute("aria-pressed", String(on));
    for (const actions of document.querySelectorAll(".bookmark-actions")) actions.hidden = !on;
    if (!on) this.closeForm();
  }

  /**
   * The chapter's list item gets its Edit and Delete buttons (shown while "Edit bookmarks" is pressed);
   * `index` is the chapter's place in the list, where the keyboard goes back to after a delete.
   */
  decorate(item, chapter, index) {
    if (!this.editable(chapter)) return;
    const bookmarkId = chapter.bookmark_id;
    item.dataset.bookmarkId = String(bookmarkId);
    const what = ` bookmark “${chapter.title}” at ${formatMediaTime(chapter.start_ms)}`;
    const edit = el("button", { type: "button", className: "small secondary bookmark-edit" }, "Edit");
    edit.append(el("span", { className: "visually-hidden" }, what));
    const remove = el("button", { type: "button", className: "small danger bookmark-delete" }, "Delete");
    remove.append(el("span", { className: "visually-hidden" }, what));
    edit.addEventListener("click", () => this.edit(item, chapter));
    remove.addEventListener("click", () => this.askDelete(chapter, index));
    const actions = el("span", { className: "bookmark-actions" }, edit, remove);
    actions.hidden = !this.editing;
    item.querySelector(".chapter-row").append(actions);
  }

  // ---- editing ----------------------------------------------------------------------------------------

  closeForm() {
    if (!this.openForm) return;
    this.openForm.form.remove();
    this.openForm = null;
  }

  /** Opens the form under the chapter (one at a time), its first field focused. */
  edit(item, chapter) {
    const bookmark = this.bookmarks.get(chapter.bookmark_id);
    if (!bookmark) return;
    if (this.openForm?.bookmarkId === bookmark.id) {
      this.openForm.form.querySelector("select, textarea")?.focus();
      return;
    }
    this.closeForm();
    clearMessage(this.status);
    const form = this.buildForm(bookmark, chapter);
    item.append(form);
    this.openForm = { bookmarkId: bookmark.id, form };
    form.querySelector("select, textarea").focus();
  }

  buildForm(bookmark, chapter) {
    const base = `bookmark-form-${bookmark.id}`;
    const heading = el("h3", { id: `${base}-heading`, className: "bookmark-form-heading" }, `Edit bookmark “${bookmarkName(bookmark, chapter)}”`);
    const alert = el("div", { role: "alert", className: "message error", id: `${base}-alert` });
    alert.hidden = true;
    const fields = [];

    const codes = this.recording?.codes_list?.codes ?? [];
    let select = null;
    if (codes.length || bookmark.code) {
      select = el("select", { id: `${base}-code`, name: "code" }, el("option", { value: "" }, "No code"));
      for (const code of codes) {
        select.append(el("option", { value: code.code }, code.label ? `${code.label} (${code.code})` : code.code));
      }
      if (bookmark.code && !codes.some((code) => code.code === bookmark.code)) {
        select.append(el("option", { value: bookmark.code }, `${bookmark.label || bookmark.code} (not in the list)`));
      }
      select.value = bookmark.code ?? "";
      const listName = this.recording?.codes_list?.name;
      fields.push(
        el(
          "div",
          { className: "bookmark-field" },
          el("label", { htmlFor: select.id }, listName ? `Code (from “${listName}”)` : "Code"),
          select,
        ),
      );
    }

    const remark = el("textarea", { id: `${base}-remark`, name: "remark", rows: 3, maxLength: REMARK_MAX });
    remark.value = bookmark.remark ?? "";
    fields.push(el("div", { className: "bookmark-field" }, el("label", { htmlFor: remark.id }, "Remark"), remark));

    // The time: read-only here, set by "Move here" to the moment playing (seek or play to it first).
    const time = el("input", { id: `${base}-time`, name: "media_ms", type: "text", readOnly: true, size: 10 });
    time.value = formatMediaTime(bookmark.media_ms);
    time.dataset.mediaMs = String(bookmark.media_ms);
    const hint = el("p", { id: `${base}-time-hint`, className: "hint" }, "Move here sets it to the moment playing now.");
    time.setAttribute("aria-describedby", hint.id);
    const move = el("button", { type: "button", className: "small secondary" }, "Move here");
    move.addEventListener("click", () => {
      const ms = Math.max(0, Math.round(this.currentMs()));
      time.dataset.mediaMs = String(ms);
      time.value = formatMediaTime(ms);
    });
    fields.push(
      el(
        "div",
        { className: "bookmark-field" },
        el("label", { htmlFor: time.id }, "Time"),
        el("span", { className: "bookmark-time", "data-field-wrap": "" }, time, " ", move),
        hint,
      ),
    );

    const save = el("button", { type: "submit", className: "small" }, "Save");
    const cancel = el("button", { type: "button", className: "small secondary" }, "Cancel");
    const form = el(
      "form",
      { id: base, className: "bookmark-form", "aria-labelledby": heading.id, noValidate: true },
      heading,
      alert,
      ...fields,
      el("div", { className: "bookmark-form-buttons" }, save, cancel),
    );
    const close = () => {
      this.closeForm();
      this.focusEdit(bookmark.id);
    };
    cancel.addEventListener("click", close);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save(form, bookmark, { select, remark, time, alert });
    });
    return form;
  }

  async save(form, bookmark, { select, remark, time, alert }) {
    const body = {};
    if (select && select.value !== (bookmark.code ?? "")) body.code = select.value || null;
    if (remark.value.trim() !== (bookmark.remark ?? "").trim()) body.remark = remark.value.trim() ? remark.value : null;
    const ms = Number(time.dataset.mediaMs);
    if (ms !== bookmark.media_ms) body.media_ms = ms;
    clearFieldErrors(form);
    clearMessage(alert);
    if (Object.keys(body).length === 0) {
      this.closeForm();
      this.focusEdit(bookmark.id);
      return;
    }
    const controls = [...form.elements];
    for (const control of controls) control.disabled = true;
    let saved;
    try {
      saved = await request("PATCH", this.path(bookmark.id), body);
    } catch (err) {
      for (const control of controls) control.disabled = false;
      if (redirectIfUnauthorized(err)) return;
      // Each field's problem next to it; what belongs to no field (or a refusal) at the top of the form.
      showMessage(alert, reportFormError(form, err));
      return;
    }
    this.openForm = null;
    form.remove();
    const name = bookmarkName(saved.bookmark);
    await this.changed(`Bookmark “${name}” saved, at ${formatMediaTime(saved.bookmark.media_ms)}.`, () =>
      this.focusEdit(bookmark.id),
    );
  }

  // ---- deleting ---------------------------------------------------------------------------------------

  askDelete(chapter, index) {
    const bookmark = this.bookmarks.get(chapter.bookmark_id);
    if (!bookmark) return;
    this.closeForm();
    clearMessage(this.status);
    clearMessage(this.dialogError);
    const name = bookmarkName(bookmark, chapter);
    this.deleting = { bookmarkId: bookmark.id, name, index, done: false };
    this.dialogText.textContent = `Delete the bookmark “${name}” at ${formatMediaTime(bookmark.media_ms)}? It is no longer a chapter, here or in the downloaded video.`;
    this.confirm.disabled = false;
    this.dialog.showModal();
  }

  async confirmDelete() {
    const deleting = this.deleting;
    if (!deleting) return;
    this.confirm.disabled = true;
    try {
      await request("DELETE", this.path(deleting.bookmarkId));
    } catch (err) {
      this.confirm.disabled = false;
      if (redirectIfUnauthorized(err)) return;
      // Already gone (another tab): the lists are read again all the same.
      if (!(err instanceof ApiError && err.status === 404)) {
        showMessage(this.dialogError, `The bookmark could not be deleted: ${err.message}`);
        return;
      }
    }
    deleting.done = true;
    this.dialog.close();
  }

  /** The dialog closed: after a delete the lists are read again and the keyboard goes to the chapter
   * before; after Cancel, back to the Delete button. */
  async afterDialog() {
    const deleting = this.deleting;
    this.deleting = null;
    if (!deleting) return;
    if (!deleting.done) {
      document.querySelector(`[data-bookmark-id="${deleting.bookmarkId}"] .bookmark-delete`)?.focus();
      return;
    }
    await this.changed(`Bookmark “${deleting.name}” deleted.`, () => {
      const buttons = document.querySelectorAll("#chapters .chapter");
      (buttons[Math.max(0, deleting.index - 1)] ?? byId("chapters-heading"))?.focus();
    });
  }

  // ---- after a change ---------------------------------------------------------------------------------

  path(bookmarkId) {
    return `/api/recordings/${encodeURIComponent(this.recording.id)}/bookmarks/${encodeURIComponent(bookmarkId)}`;
  }

  async changed(text, focus) {
    try {
      await this.onChanged();
    } catch (err) {
      if (redirectIfUnauthorized(err)) return;
      showMessage(this.status, `${text} The chapters could not be read again: ${err.message}`);
      return;
    }
    showMessage(this.status, text);
    focus();
  }

  focusEdit(bookmarkId) {
    const button = document.querySelector(`[data-bookmark-id="${bookmarkId}"] .bookmark-edit`);
    if (button && !button.closest("[hidden]")) button.focus();
  }
}
