// The portal's shell: login, the system tree, the main tabs with their toolbar and table, the details pane.

import * as api from "./api.js";
import { clear, faultView, h, notify } from "./dom.js";
import { DataTable } from "./table.js";
import { Inventory } from "./inventory.js";
import { SystemTree } from "./tree.js";
import { EventFeed } from "./events.js";
import { MAIN_TABS } from "./tabs/index.js";

const app = document.getElementById("app");

function showLogin(message) {
  const user = h("input", { id: "login-user", name: "username", autocomplete: "username", value: "admin@internal", required: true });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const faults = h("div", { class: "faults" });
  const button = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h("form", { class: "login", onsubmit: async (event) => {
    event.preventDefault();
    button.disabled = true;
    clear(faults);
    try {
      await api.login(user.value.trim(), password.value);
      showPortal();
    } catch (error) {
      clear(faults, faultView(error));
      password.select();
    } finally {
      button.disabled = false;
    }
  } },
  h("h1", {}, "extnet administration portal"),
  message ? h("p", { class: "notice info" }, message) : null,
  h("div", { class: "field" }, h("label", { for: user.id }, "User name"), user),
  h("div", { class: "field" }, h("label", { for: password.id }, "Password"), password),
  faults,
  h("div", { class: "buttons" }, button),
  h("p", { class: "help" }, "The engine's users, as for the REST API (e.g. admin@internal)."));
  clear(app, h("main", { class: "login-page" }, form));
  (user.value ? password : user).focus();
}

class Portal {
  constructor() {
    this.inventory = new Inventory();
    this.scope = { kind: "system" };
    this.tabId = null;
    this.searchInput = h("input", { type: "search", id: "search", placeholder: "e.g. name = web*", "aria-describedby": "search-help" });
    this.toolbar = h("div", { class: "actions", role: "toolbar", "aria-label": "Actions" });
    this.scopeChip = h("div", { class: "scope" });
    this.tablePlace = h("div", { class: "table-place" });
    this.details = h("section", { class: "details", "aria-label": "Details of the selected item" });
    this.tabList = h("div", { role: "tablist", class: "main-tabs", "aria-label": "Main tabs" });
    this.tree = new SystemTree(this.inventory, (scope) => this.setScope(scope));
    this.events = new EventFeed((count) => this.markEvents(count));
    this.tables = new Map();
  }

  mount() {
    const user = api.currentUser();
    const header = h("header", { class: "top" },
      h("span", { class: "brand" }, "extnet"), h("span", { class: "product" }, "Administration Portal"),
      h("span", { class: "spacer" }),
      h("span", { class: "user" }, "Signed in as ", h("strong", {}, user)),
      h("a", { href: "/ovirt-engine/api", class: "api-link" }, "REST API"),
      h("button", { type: "button", onclick: () => api.logout() }, "Log out"));
    const search = this.searchForm = h("form", { class: "search", role: "search", onsubmit: (event) => {
      event.preventDefault();
      this.load();
    } },
    h("label", { for: "search" }, "Search"), this.searchInput,
    h("button", { type: "submit" }, "Search"),
    h("span", { id: "search-help", class: "help" }, "The engine's search language: name = web*, status = up, sortby name desc"));
    const main = h("main", { class: "main" }, this.tabList, this.scopeChip, search, this.toolbar, this.tablePlace, this.details);
    clear(app, h("div", { class: "shell" }, header,
      h("nav", { class: "tree-pane", "aria-label": "System tree" }, this.tree.element), main),
    h("div", { id: "notices", class: "notices", role: "status", "aria-live": "polite" }));
    for (const tab of MAIN_TABS) {
      this.tabList.append(h("button", {
        role: "tab", id: `tab-${tab.id}`, type: "button", "aria-selected": "false", tabindex: "-1",
        "aria-controls": "main-panel", onclick: () => this.openTab(tab.id), onkeydown: (event) => this.tabKeys(event),
      }, tab.label, tab.id === "events" ? h("span", { class: "badge", id: "events-badge" }) : null));
    }
    this.tablePlace.id = "main-panel";
    this.tablePlace.setAttribute("role", "tabpanel");
    window.addEventListener("hashchange", () => this.fromHash());
    this.refreshTree();
    this.events.start();
    this.fromHash();
  }

  tabKeys(event) {
    const tabs = [...this.tabList.querySelectorAll("[role=tab]")];
    const index = tabs.indexOf(event.currentTarget);
    const moves = { ArrowRight: 1, ArrowLeft: -1 };
    if (event.key in moves) {
      event.preventDefault();
      const next = tabs[(index + moves[event.key] + tabs.length) % tabs.length];
      next.focus();
      next.click();
    }
  }

  fromHash() {
    const [tabId, rowId] = location.hash.replace(/^#\/?/, "").split("/");
    const tab = MAIN_TABS.find((t) => t.id === tabId) || MAIN_TABS[0];
    this.openTab(tab.id, rowId ? decodeURIComponent(rowId) : null, false);
  }

  async refreshTree() {
    this.inventory.invalidate();
    try {
      await this.inventory.load();
      this.tree.render();
    } catch (error) {
      notify(`The system tree could not be loaded: ${error.message}`, "error");
    }
  }

  setScope(scope) {
    this.scope = scope;
    this.renderScope();
    this.showRows();
  }

  renderScope() {
    const text = this.inventory.describe(this.scope);
    clear(this.scopeChip, text ? [h("span", {}, `Showing only ${text}`),
      h("button", { type: "button", class: "link", onclick: () => this.tree.choose({ kind: "system" }) }, "Show all")] : null);
  }

  ctx() {
    return {
      inventory: this.inventory,
      refresh: () => {
        this.inventory.invalidate();
        return this.load();
      },
      refreshTree: () => this.refreshTree(),
      open: (tabId, rowId) => this.navigate(tabId, rowId),
    };
  }

  navigate(tabId, rowId) {
    location.hash = `#/${tabId}${rowId ? `/${encodeURIComponent(rowId)}` : ""}`;
  }

  openTab(tabId, rowId = null, push = true) {
    const tab = MAIN_TABS.find((t) => t.id === tabId);
    if (push) {
      const wanted = `#/${tabId}${rowId ? `/${encodeURIComponent(rowId)}` : ""}`;
      if (location.hash !== wanted) {
        location.hash = wanted;
        return;
      }
    }
    for (const button of this.tabList.querySelectorAll("[role=tab]")) {
      const active = button.id === `tab-${tabId}`;
      button.setAttribute("aria-selected", String(active));
      button.tabIndex = active ? 0 : -1;
    }
    this.tablePlace.setAttribute("aria-labelledby", `tab-${tabId}`);
    const changed = this.tabId !== tabId;
    this.tabId = tabId;
    this.tab = tab;
    this.pendingSelection = rowId;
    if (changed) {
      this.rows = null;
      this.searchInput.value = "";
      this.searchForm.hidden = !tab.searchable;
      this.renderToolbar(null);
      clear(this.details);
    }
    if (tab.id === "events") this.markEvents(0);
    this.load();
  }

  table() {
    if (!this.tables.has(this.tabId)) {
      const tab = this.tab;
      this.tables.set(this.tabId, new DataTable({
        label: tab.label, columns: tab.columns(this.ctx()), sort: tab.sort,
        onSelect: (row) => this.selectRow(row),
      }));
    }
    return this.tables.get(this.tabId);
  }

  async load() {
    const tab = this.tab;
    if (tab.view) return this.loadView(tab);
    const table = this.table();
    clear(this.tablePlace, table.element);
    this.tablePlace.setAttribute("aria-busy", "true");
    try {
      const params = tab.searchable && this.searchInput.value.trim() ? { search: this.searchInput.value.trim() } : {};
      const [rows] = await Promise.all([tab.load(this.ctx(), params), this.inventory.load()]);
      if (tab !== this.tab) return;
      this.rows = rows;
      this.tree.render();
      this.showRows();
    } catch (error) {
      if (tab !== this.tab) return;
      clear(this.tablePlace, faultView(error), table.element);
    } finally {
      this.tablePlace.removeAttribute("aria-busy");
      this.loads = (this.loads || 0) + 1;
      this.tablePlace.dataset.loads = String(this.loads); // how many loads ended: what tests and benchmarks wait on
    }
  }

  async loadView(tab) {
    this.details.hidden = true;
    this.renderToolbar(null);
    this.tablePlace.setAttribute("aria-busy", "true");
    try {
      await tab.view(this.tablePlace, this.ctx(), this.scope);
    } catch (error) {
      if (tab === this.tab) clear(this.tablePlace, faultView(error));
    } finally {
      this.tablePlace.removeAttribute("aria-busy");
    }
  }

  showRows() {
    if (this.tab?.view) {
      this.load();
      return;
    }
    if (!this.rows) return;
    const table = this.table();
    const shown = this.tab.inScope ? this.rows.filter((row) => this.tab.inScope(row, this.scope, this.inventory)) : this.rows;
    table.setRows(shown);
    if (this.pendingSelection) {
      table.select(this.pendingSelection);
      this.pendingSelection = null;
      this.tablePlace.querySelector("tr.selected")?.scrollIntoView({ block: "nearest" });
    } else {
      this.selectRow(table.selected());
    }
  }

  selectRow(row) {
    this.renderToolbar(row);
    this.renderDetails(row);
  }

  renderToolbar(row) {
    clear(this.toolbar);
    for (const action of this.tab?.actions || []) {
      const enabled = action.needsRow ? Boolean(row) && (!action.enabled || action.enabled(row, this.inventory)) : true;
      const reason = row && action.whyNot ? action.whyNot(row, this.inventory) : null;
      const button = h("button", { type: "button", disabled: !enabled || Boolean(reason), title: reason || null,
        onclick: async () => {
          try {
            await action.run(row, this.ctx());
          } catch (error) {
            notify(error.message, "error");
          }
        } }, action.label);
      this.toolbar.append(reason ? h("span", { class: "why-not", title: reason }, button) : button);
    }
    this.toolbar.append(h("button", { type: "button", class: "refresh", onclick: () => this.ctx().refresh(), "aria-label": "Refresh" }, "⟳ Refresh"));
  }

  renderDetails(row) {
    clear(this.details);
    this.details.hidden = !row;
    if (!row || !this.tab.details) return;
    const subTabs = this.tab.details;
    const list = h("div", { role: "tablist", class: "sub-tabs", "aria-label": "Details" });
    const panel = h("div", { role: "tabpanel", class: "sub-panel", id: "sub-panel" });
    const choose = (index) => {
      [...list.children].forEach((button, i) => {
        button.setAttribute("aria-selected", String(i === index));
        button.tabIndex = i === index ? 0 : -1;
      });
      panel.setAttribute("aria-labelledby", list.children[index].id);
      clear(panel, h("p", { class: "loading" }, "Loading…"));
      this.subTab = subTabs[index].label;
      Promise.resolve(subTabs[index].render(row, panel, this.ctx())).catch((error) => clear(panel, faultView(error)));
    };
    subTabs.forEach((sub, index) => list.append(h("button", {
      type: "button", role: "tab", id: `sub-${this.tab.id}-${index}`, "aria-controls": "sub-panel",
      onclick: () => choose(index),
      onkeydown: (event) => {
        const moves = { ArrowRight: 1, ArrowLeft: -1 };
        if (event.key in moves) {
          const next = (index + moves[event.key] + subTabs.length) % subTabs.length;
          list.children[next].focus();
          choose(next);
        }
      },
    }, sub.label)));
    this.details.append(h("h2", {}, `${this.tab.singular} ${row.name || row.id}`), list, panel);
    const remembered = subTabs.findIndex((sub) => sub.label === this.subTab);
    choose(remembered >= 0 ? remembered : 0);
  }

  markEvents(count) {
    const badge = document.getElementById("events-badge");
    if (!badge) return;
    const total = count === 0 ? 0 : (Number(badge.dataset.count || 0) + count);
    badge.dataset.count = String(total);
    badge.textContent = total && this.tabId !== "events" ? ` ${total} new` : "";
    if (this.tabId === "events" && count) this.load();
  }
}

let portal = null;

function showPortal() {
  portal = new Portal();
  portal.mount();
}

api.onLoggedOut(() => {
  portal?.events.stop();
  portal = null;
  showLogin("You are logged out.");
});
if (api.currentUser()) showPortal();
else showLogin();
