// Form errors next to their fields: the server's {"error": {"fields": {name: text}}} shown all at once,
// each field marked invalid and described by its message, the first one focused.

const ERROR_CLASS = "field-error";

/** The control for a body field: a form control of that name, or an element marked data-field="name". */
function fieldControl(form, name) {
  const control = form.elements.namedItem(name);
  if (control instanceof HTMLElement && !(control instanceof RadioNodeList)) return control;
  return form.querySelector(`[data-field="${CSS.escape(name)}"]`);
}

/** The element the message goes after: the field's wrapper when it has one (a picker, a checkbox row). */
function anchorOf(control) {
  return control.closest("[data-field-wrap]") ?? control;
}

function describedBy(control) {
  return (control.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean);
}

/**
 * Shows every field problem of `apiError` (an ApiError, or anything with `fields`) next to its field.
 * Returns the messages that belong to no field of this form, for the caller to show elsewhere (with the
 * error's message when there are no field problems at all).
 */
export function showFieldErrors(form, apiError) {
  clearFieldErrors(form);
  const fields = apiError?.fields ?? {};
  const unplaced = [];
  let first = null;
  for (const [name, text] of Object.entries(fields)) {
    const control = fieldControl(form, name);
    if (!control) {
      unplaced.push(text);
      continue;
    }
    const message = document.createElement("p");
    message.className = ERROR_CLASS;
    message.id = `${form.id || "form"}-${name}-error`;
    message.dataset.errorFor = name;
    message.textContent = text;
    anchorOf(control).after(message);
    const input = control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea");
    const target = input ?? control;
    target.setAttribute("aria-invalid", "true");
    target.setAttribute("aria-describedby", [...describedBy(target), message.id].join(" "));
    target.dataset.fieldErrorId = message.id;
    first ??= target;
  }
  if (Object.keys(fields).length === 0 && apiError?.message) unplaced.push(apiError.message);
  first?.focus();
  return unplaced;
}

/**
 * Shows `apiError` on `form`, each field problem next to its field, and returns the text for the top of the
 * form: problems of no field of this form, or the error's summary when several fields are marked, else "".
 */
export function reportFormError(form, apiError) {
  const rest = showFieldErrors(form, apiError);
  if (rest.length) return rest.join(" ");
  return Object.keys(apiError?.fields ?? {}).length > 1 ? apiError.message : "";
}

/** Removes what showFieldErrors added. */
export function clearFieldErrors(form) {
  for (const message of form.querySelectorAll(`.${ERROR_CLASS}`)) message.remove();
  for (const target of form.querySelectorAll("[data-field-error-id]")) {
    const kept = describedBy(target).filter((id) => id !== target.dataset.fieldErrorId);
    if (kept.length) target.setAttribute("aria-describedby", kept.join(" "));
    else target.removeAttribute("aria-describedby");
    target.removeAttribute("aria-invalid");
    delete target.dataset.fieldErrorId;
  }
}
