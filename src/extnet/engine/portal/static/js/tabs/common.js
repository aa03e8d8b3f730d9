// What the main tabs share: links to other objects, status badges, the General sub-tab.

import { h } from "../dom.js";

/** A link to an object in another tab (its row selected there). */
export function objectLink(ctx, tabId, ref, text) {
  if (!ref || !ref.id) return "";
  const label = text || ctx.inventory.name(ref);
  return h("a", { href: `#/${tabId}/${encodeURIComponent(ref.id)}`, class: "object-link" }, label);
}

const GOOD = new Set(["up", "active", "operational", "ok", "finished", "normal", "true"]);
const BAD = new Set(["down", "non_operational", "error", "failed", "non_responsive", "problematic", "alert", "false"]);

/** A status as text with a colour mark (never colour alone). */
export function status(value) {
  if (value === undefined || value === null || value === "") return "";
  const text = String(value);
  const lower = text.toLowerCase();
  const kind = GOOD.has(lower) ? "good" : BAD.has(lower) ? "bad" : "other";
  return h("span", { class: `status ${kind}` }, h("span", { class: "dot", "aria-hidden": "true" }), text.replaceAll("_", " "));
}

/** The General sub-tab: label/value pairs of the row. */
export function general(pairs) {
  return (row, panel, ctx) => {
    panel.replaceChildren(h("dl", { class: "general" },
      pairs(row, ctx).flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value === undefined || value === null || value === "" ? "—" : value)])));
  };
}

export const yesNo = (value) => (flag(value) ? "yes" : "no");

export function byName(a, b) {
  return String(a.name).localeCompare(String(b.name));
}

/** A boolean of the engine's JSON, which writes them as "true" and "false" (as oVirt's does). */
export function flag(value) {
  return value === true || value === "true";
}
