// Building blocks of the pages: elements made from data (text is always set as text, never parsed as HTML), form
// fields with labels and their errors, messages read out by screen readers, tables and dates.

// Characters that reorder the text around them (bidirectional controls and marks) are shown as their code, never
// obeyed: a name written with U+202E cannot pass for another, nor move the text beside it. Only what is shown is
// changed; a form's values keep what is stored.
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

export function visible(text) {
  return String(text).replace(BIDI_CONTROLS, (c) => `\\u${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`);
}

// Attributes that are read out or shown as text (a form's `value` is not: it must hold what is stored).
const SHOWN_ATTRIBUTES = new Set(["title", "aria-label", "alt", "placeholder"]);

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, SHOWN_ATTRIBUTES.has(name) ? visible(value) : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(visible(child)));
  }
}

// Replace an element's content.
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let fieldCount = 0;

// A labelled input (or select/textarea when `control` is given), with a slot for its error message.
export function field(label, control, hint) {
  fieldCount += 1;
  const id = control.id || `field-${fieldCount}`;
  control.id = id;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  return h(
    "div",
    { class: "field", dataset: { field: control.name || "" } },
    h("label", { for: id }, label),
    control,
    hint ? h("small", { id: hintId, class: "hint" }, hint) : null,
    h("small", { id: errorId, class: "field-error", role: "alert" }),
  );
}

export function input(name, value = "", attributes = {}) {
  return h("input", { name, value: value ?? "", ...attributes });
}

export function select(name, options, selected, attributes = {}) {
  return h(
    "select",
    { name, ...attributes },
    options.map(([value, label]) => h("option", { value, selected: value === (selected ?? "") }, label)),
  );
}

// Show the field errors of a 422 next to their fields; answers the errors no field of the form shows.
export function showFieldErrors(form, errors) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  const unplaced = [];
  for (const error of errors) {
    const control = error.field ? form.elements.namedItem(error.field.split(/[.[]/)[0]) : null;
    if (control && control.id) {
      control.setAttribute("aria-invalid", "true");
      const slot = form.querySelector(`#${CSS.escape(control.id)}-error`);
      if (slot) slot.textContent = error.message;
      continue;
    }
    unplaced.push(error);
  }
  return unplaced;
}

// A message: "ok" and "info" are polite status messages, "error" an alert.
export function message(kind, ...text) {
  return h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, ...text);
}

// The words of a refusal: its detail and every field error.
export function problemText(error) {
  const fields = (error.errors || []).map((e) => (e.field ? `${e.field}: ${e.message}` : e.message));
  return [error.message, ...fields].filter(Boolean).join(" — ");
}

export function table(caption, columns, rows, empty = "Nothing to show.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { dataset: { label: c.label } }, c.cell(row)))))),
    ),
  );
}

export function when(text) {
  if (!text) return "—";
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return h("time", { datetime: text, title: text }, date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${kind}` }, String(text).replaceAll("_", " "));
}

// A button that asks for confirmation, then runs `action`; it is disabled while the action runs.
export function actionButton(label, question, action, attributes = {}) {
  const button = h("button", {
    type: "button",
    ...attributes,
    onclick: async () => {
      if (question && !window.confirm(question)) return;
      button.disabled = true;
      try {
        await action();
      } finally {
        button.disabled = false;
      }
    },
  }, label);
  return button;
}

// An ISO time from a datetime-local input's value (the browser's time zone), or undefined.
export function isoFromLocal(value) {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}
