// The codes lists editor of a classroom's settings (GET|PUT /api/classrooms/{id}/codes): lists with a name,
// each with codes (code, label, optional key). The form is the editor's state: adding or removing a list or
// a code reads it, changes the lists and draws them again, so the inputs' names always follow the server's
// field paths ("lists.0.codes.1.key") and its problems show next to their fields (forms.js).
import { request } from "/static/js/api.js";
import { clearFieldErrors, reportFormError } from "/static/js/forms.js";
import { el, showMessage } from "/static/js/nav.js";
import { codesBody, fieldPath } from "/static/js/recording.js";

const EMPTY_CODE = Object.freeze({ code: "", label: "", key: "" });

export class CodesEditor {
  /**
   * @param elements {form, lists, empty, addList, alert, status}
   * @param hooks.classroomId whose lists these are
   * @param hooks.onUnauthorized (err): the session ended; returns true when it sent the person away
   */
  constructor(elements, hooks) {
    this.elements = elements;
    this.hooks = hooks;
    const e = elements;
    e.addList.addEventListener("click", () => {
      const lists = this.read();
      lists.push({ name: "", codes: [{ ...EMPTY_CODE }] });
      this.render(lists);
      this._input(lists.length - 1, "name")?.focus();
    });
    e.lists.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-op]");
      if (button) this._operate(button.dataset.op, Number(button.dataset.list), Number(button.dataset.code));
    });
    e.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  get path() {
    return `/api/classrooms/${encodeURIComponent(this.hooks.classroomId)}/codes`;
  }

  async load() {
    const answer = await request("GET", this.path);
    this.render(answer?.lists ?? []);
  }

  async save() {
    const e = this.elements;
    const submit = e.form.querySelector("button[type=submit]");
    showMessage(e.alert, "");
    showMessage(e.status, "");
    clearFieldErrors(e.form);
    submit.disabled = true;
    try {
      const answer = await request("PUT", this.path, codesBody(this.read()));
      this.render(answer?.lists ?? []);
      showMessage(e.status, "Codes lists saved.");
    } catch (err) {
      if (this.hooks.onUnauthorized(err)) return;
      const fields = Object.entries(err.fields ?? {}).map(([name, text]) => [fieldPath(name), text]);
      showMessage(e.alert, reportFormError(e.form, { message: err.message, fields: Object.fromEntries(fields) }));
    } finally {
      submit.disabled = false;
    }
  }

  /** The lists as the form holds them now. */
  read() {
    return [...this.elements.lists.querySelectorAll("fieldset.codes-list")].map((fieldset) => ({
      name: fieldset.querySelector("input[data-part=name]").value,
      codes: [...fieldset.querySelectorAll(".code-row:not(.code-head)")].map((row) => ({
        code: row.querySelector("input[data-part=code]").value,
        label: row.querySelector("input[data-part=label]").value,
        key: row.querySelector("input[data-part=key]").value,
      })),
    }));
  }

  render(lists) {
    const e = this.elements;
    clearFieldErrors(e.form);
    e.lists.replaceChildren(...lists.map((list, index) => listFieldset(list, index)));
    e.empty.hidden = lists.length > 0;
  }

  _operate(op, listIndex, codeIndex) {
    const lists = this.read();
    showMessage(this.elements.status, "");
    if (op === "add-code") {
      lists[listIndex].codes.push({ ...EMPTY_CODE });
      this.render(lists);
      this._input(listIndex, `codes.${lists[listIndex].codes.length - 1}.code`)?.focus();
    } else if (op === "remove-code") {
      lists[listIndex].codes.splice(codeIndex, 1);
      this.render(lists);
      // Focus stays in the list: on the code now in that place, else on its "Add a code".
      const next =
        this._input(listIndex, `codes.${codeIndex}.code`) ?? this._input(listIndex, `codes.${codeIndex - 1}.code`);
      (next ?? this.elements.lists.querySelector(`button[data-op=add-code][data-list="${listIndex}"]`))?.focus();
    } else if (op === "remove-list") {
      lists.splice(listIndex, 1);
      this.render(lists);
      (this._input(Math.min(listIndex, lists.length - 1), "name") ?? this.elements.addList).focus();
    }
  }

  _input(listIndex, part) {
    return this.elements.form.elements.namedItem(`lists.${listIndex}.${part}`);
  }
}

function listFieldset(list, index) {
  const number = index + 1;
  const at = `lists.${index}`;
  const nameId = `codes-${index}-name`;
  const rows = el("div", { className: "code-rows" });
  rows.append(
    el(
      "div",
      { className: "code-row code-head", "aria-hidden": "true" },
      el("span", {}, "Code"),
      el("span", {}, "Label"),
      el("span", {}, "Key"),
      el("span", {}),
    ),
    ...list.codes.map((code, codeIndex) => codeRow(code, index, codeIndex)),
  );
  return el(
    "fieldset",
    { className: "codes-list" },
    el("legend", {}, `Codes list ${number}`),
    el("label", { htmlFor: nameId }, "List name"),
    el(
      "div",
      { className: "code-cell" },
      input({ id: nameId, name: `${at}.name`, part: "name", value: list.name, maxLength: 80 }),
    ),
    rows,
    el(
      "div",
      { className: "codes-list-actions" },
      el(
        "button",
        { type: "button", className: "secondary small", "data-op": "add-code", "data-list": String(index) },
        "Add a code",
      ),
      el(
        "button",
        {
          type: "button",
          className: "danger small",
          "data-op": "remove-list",
          "data-list": String(index),
          "aria-label": `Remove list ${number}`,
        },
        "Remove list",
      ),
    ),
  );
}

function codeRow(code, listIndex, codeIndex) {
  const number = codeIndex + 1;
  const at = `lists.${listIndex}.codes.${codeIndex}`;
  const cell = (part, props) =>
    el("div", { className: "code-cell" }, input({ name: `${at}.${part}`, part, value: code[part] ?? "", ...props }));
  return el(
    "div",
    { className: "code-row" },
    cell("code", { "aria-label": `Code ${number}`, maxLength: 40, autocomplete: "off", spellcheck: false }),
    cell("label", { "aria-label": `Label ${number}`, maxLength: 120, placeholder: "Label" }),
    cell("key", { "aria-label": `Key ${number}`, maxLength: 1, autocomplete: "off", className: "code-key-input" }),
    el(
      "button",
      {
        type: "button",
        className: "secondary small",
        "data-op": "remove-code",
        "data-list": String(listIndex),
        "data-code": String(codeIndex),
        "aria-label": `Remove code ${number}`,
      },
      "Remove",
    ),
  );
}

function input({ part, value, ...props }) {
  return el("input", { type: "text", value, "data-part": part, ...props });
}
