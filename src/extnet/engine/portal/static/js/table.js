// A real HTML table of entities: sortable columns, one selected row, paged so that 10,000 rows stay fast (only a
// page is in the DOM; sorting and filtering work on the whole list in memory).

import { clear, h } from "./dom.js";

const PAGE_SIZE = 100;

function cellText(value) {
  if (value === null || value === undefined) return "";
  return value;
}

export class DataTable {
  /**
   * columns: [{key, label, value(row) -> text or Node, sortValue(row) -> comparable (default: value's text)}]
   * onSelect(row or null): the selection changed.
   */
  constructor({ label, columns, onSelect, sort = { key: columns[0].key, ascending: true } }) {
    this.columns = columns;
    this.onSelect = onSelect;
    this.rows = [];
    this.sorted = [];
    this.sortKey = sort.key;
    this.ascending = sort.ascending;
    this.page = 0;
    this.selectedId = null;
    this.caption = h("caption", { class: "visually-hidden" }, label);
    this.head = h("thead");
    this.body = h("tbody");
    this.status = h("span", { class: "page-status", "aria-live": "polite" });
    this.previous = h("button", { type: "button", onclick: () => this.goTo(this.page - 1) }, "‹ Previous");
    this.next = h("button", { type: "button", onclick: () => this.goTo(this.page + 1) }, "Next ›");
    this.element = h("div", { class: "table-wrap" },
      h("table", { class: "grid" }, this.caption, this.head, this.body),
      h("div", { class: "pager" }, this.previous, this.status, this.next));
    this.renderHead();
  }

  setRows(rows) {
    this.rows = rows;
    this.sort();
    const stillThere = this.sorted.findIndex((row) => row.id === this.selectedId);
    if (stillThere < 0 && this.selectedId !== null) {
      this.selectedId = null;
      this.onSelect?.(null);
    }
    if (stillThere >= 0) this.page = Math.floor(stillThere / PAGE_SIZE);
    this.page = Math.min(this.page, Math.max(0, Math.ceil(this.sorted.length / PAGE_SIZE) - 1));
    this.renderBody();
  }

  selected() {
    return this.rows.find((row) => row.id === this.selectedId) || null;
  }

  select(id) {
    const index = this.sorted.findIndex((row) => row.id === id);
    this.selectedId = index >= 0 ? id : null;
    if (index >= 0) this.page = Math.floor(index / PAGE_SIZE);
    this.renderBody();
    this.onSelect?.(this.selected());
  }

  sortValue(column, row) {
    if (column.sortValue) return column.sortValue(row);
    const value = column.value(row);
    if (value instanceof Node) return value.textContent.toLowerCase();
    return typeof value === "number" ? value : String(cellText(value)).toLowerCase();
  }

  sort() {
    const column = this.columns.find((c) => c.key === this.sortKey);
    const keyed = this.rows.map((row) => [this.sortValue(column, row), row]);
    const direction = this.ascending ? 1 : -1;
    keyed.sort((a, b) => (a[0] < b[0] ? -direction : a[0] > b[0] ? direction : 0));
    this.sorted = keyed.map(([, row]) => row);
  }

  sortBy(key) {
    this.ascending = this.sortKey === key ? !this.ascending : true;
    this.sortKey = key;
    this.sort();
    this.page = 0;
    this.renderHead();
    this.renderBody();
  }

  goTo(page) {
    this.page = page;
    this.renderBody();
  }

  renderHead() {
    clear(this.head, h("tr", {}, this.columns.map((column) => {
      const sorted = column.key === this.sortKey;
      const order = sorted ? (this.ascending ? "ascending" : "descending") : "none";
      return h("th", { scope: "col", "aria-sort": order },
        h("button", { type: "button", class: "sort", onclick: () => this.sortBy(column.key) },
          column.label, h("span", { class: "arrow", "aria-hidden": "true" }, sorted ? (this.ascending ? " ▲" : " ▼") : "")));
    })));
  }

  renderBody() {
    const start = this.page * PAGE_SIZE;
    const shown = this.sorted.slice(start, start + PAGE_SIZE);
    clear(this.body, shown.map((row) => this.renderRow(row)));
    if (!shown.length) {
      this.body.append(h("tr", {}, h("td", { colspan: this.columns.length, class: "empty" }, "No items to display")));
    }
    const total = this.sorted.length;
    this.status.textContent = total ? `${start + 1}-${start + shown.length} of ${total}` : "0 of 0";
    this.previous.disabled = this.page === 0;
    this.next.disabled = start + PAGE_SIZE >= total;
  }

  renderRow(row) {
    const selected = row.id === this.selectedId;
    const choose = () => this.select(row.id);
    const tr = h("tr", {
      class: selected ? "selected" : "", "aria-selected": String(selected), tabindex: "0",
      dataset: { id: row.id }, onclick: choose,
      onkeydown: (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          choose();
        } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          const sibling = event.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
          sibling?.focus();
        }
      },
    });
    for (const column of this.columns) {
      tr.append(h("td", { class: column.class || "" }, cellText(column.value(row))));
    }
    return tr;
  }
}
