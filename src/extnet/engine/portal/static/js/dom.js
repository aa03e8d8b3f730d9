// Small DOM helpers: element building, form fields with labels, modal dialogs that show the engine's faults.

/** h("button", {class: "x", onclick: f}, "text", child...): an element; null/false children are skipped. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let nextId = 0;
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled control: {row, input}; ``help`` is read out with the control (aria-describedby). */
export function field(label, input, help) {
  input.id = input.id || uid("field");
  const helpId = help ? uid("help") : null;
  if (helpId) input.setAttribute("aria-describedby", helpId);
  const row = h("div", { class: "field" },
    h("label", { for: input.id }, label),
    input,
    help ? h("p", { class: "help", id: helpId }, help) : null);
  return { row, input };
}

export function checkbox(label, checked = false, help) {
  const input = h("input", { type: "checkbox", checked });
  input.id = uid("check");
  const helpId = help ? uid("help") : null;
  if (helpId) input.setAttribute("aria-describedby", helpId);
  const row = h("div", { class: "field check" }, input, h("label", { for: input.id }, label),
    help ? h("p", { class: "help", id: helpId }, help) : null);
  return { row, input };
}

export function select(options, value) {
  const element = h("select", {});
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    element.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  }
  return element;
}

/** The engine's fault as the user reads it: its reason, and its detail beneath. */
export function faultView(error) {
  if (error && error.reason !== undefined) {
    return h("div", { class: "fault", role: "alert" }, h("strong", {}, error.reason),
      error.detail ? h("div", { class: "detail" }, error.detail) : null);
  }
  return h("div", { class: "fault", role: "alert" }, h("strong", {}, String(error && error.message || error)));
}

/**
 * A modal dialog (the native <dialog>: focus stays inside, Escape cancels). ``onSubmit`` runs on the primary
 * button or Enter; a thrown fault is shown in the dialog, which stays open with what the user typed (as it does when
 * onSubmit returns false). Resolves with onSubmit's result (true for none), or null when cancelled.
 */
export function openDialog({ title, body, footer = null, submitLabel = "OK", cancelLabel = "Cancel", onSubmit, wide = false }) {
  return new Promise((resolve) => {
    const titleId = uid("dialog-title");
    const faults = h("div", { class: "faults" });
    const submit = h("button", { type: "submit", class: "primary" }, submitLabel);
    const cancel = h("button", { type: "button" }, cancelLabel);
    const form = h("form", { method: "dialog" },
      h("h2", { id: titleId }, title),
      h("div", { class: "dialog-body" }, body),
      footer ? h("div", { class: "dialog-footer" }, footer) : null, // always in sight, below the scrolled body
      faults,
      h("div", { class: "buttons" }, onSubmit ? submit : null, cancel));
    const dialog = h("dialog", { "aria-labelledby": titleId, class: wide ? "wide" : "" }, form);
    let result = null;
    const close = () => {
      dialog.close();
    };
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    cancel.addEventListener("click", close);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!onSubmit) return close();
      submit.disabled = true;
      clear(faults);
      try {
        const value = await onSubmit({ faults, dialog, submit, cancel });
        if (value !== false) {  // false: the dialog stays open (it shows why)
          result = value === undefined ? true : value;
          close();
        }
      } catch (error) {
        clear(faults, faultView(error));
      } finally {
        submit.disabled = Boolean(submit.dataset.done); // set by onSubmit when nothing is left to submit
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector("input:not([type=hidden]), select, textarea");
    (first || submit).focus();
  });
}

/** A yes/no question in a dialog; resolves true when confirmed. */
export async function confirmDialog(title, message, confirmLabel = "OK", extra = null) {
  const answer = await openDialog({
    title, submitLabel: confirmLabel,
    body: [h("p", {}, message), extra],
    onSubmit: async () => true,
  });
  return answer === true;
}

/** A short message at the bottom of the screen, read out by screen readers. */
export function notify(message, kind = "info") {
  const area = document.getElementById("notices");
  if (!area) return;
  const note = h("div", { class: `notice ${kind}` }, message);
  area.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 12000 : 5000);
}

export function formatTime(value) {
  if (!value) return "";
  const moment = new Date(value);
  return Number.isNaN(moment.getTime()) ? String(value) : moment.toLocaleString();
}
