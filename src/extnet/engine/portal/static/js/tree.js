// The system tree: System -> Data Centers -> each data center with its clusters and networks; System -> External
// Providers -> each provider. Choosing a node limits the main tabs to it. Keyboard: the ARIA tree pattern.

import { clear, h } from "./dom.js";

const MAX_CHILDREN = 100; // a data center with 10,000 networks lists the first ones; the Networks tab has them all

const PROVIDER_ICONS = { neutron: "N", external: "E" };

function key(scope) {
  return `${scope.kind}:${scope.id || ""}`;
}

export class SystemTree {
  constructor(inventory, onChoose) {
    this.inventory = inventory;
    this.onChoose = onChoose;
    this.expanded = new Set(["system:", "datacenters:", "providers:"]);
    this.chosen = "system:";
    this.element = h("ul", { role: "tree", class: "tree", "aria-label": "System" });
    this.element.addEventListener("keydown", (event) => this.keys(event));
  }

  nodes() {
    const inv = this.inventory;
    const dataCenters = inv.dataCenters.map((dc) => {
      const clusters = inv.clusters.filter((c) => c.data_center?.id === dc.id);
      const networks = inv.networks.filter((n) => n.data_center?.id === dc.id);
      return {
        scope: { kind: "datacenter", id: dc.id }, label: dc.name, icon: "DC",
        children: [
          { scope: { kind: "clusters-of", id: dc.id }, label: "Clusters", group: true,
            children: clusters.map((c) => ({ scope: { kind: "cluster", id: c.id }, label: c.name, icon: "C" })) },
          { scope: { kind: "networks-of", id: dc.id }, label: "Networks", group: true, total: networks.length,
            children: networks.slice(0, MAX_CHILDREN).map((n) => ({
              scope: { kind: "network", id: n.id }, label: n.name, icon: n.external_provider ? "EN" : "Net" })) },
        ],
      };
    });
    const providers = inv.providers.map((p) => ({
      scope: { kind: "provider", id: p.id }, label: p.name, icon: PROVIDER_ICONS[p.type] || "P",
      iconLabel: `${p.type || "network"} provider`,
    }));
    return [{
      scope: { kind: "system" }, label: "System", children: [
        { scope: { kind: "datacenters" }, label: "Data Centers", group: true, children: dataCenters },
        { scope: { kind: "providers" }, label: "External Providers", group: true, children: providers },
      ],
    }];
  }

  render(current) {
    if (current) this.chosen = key(current);
    clear(this.element, this.nodes().map((node) => this.renderNode(node, 1)));
    const chosen = this.element.querySelector('[aria-selected="true"]') || this.element.querySelector("[role=treeitem]");
    chosen.tabIndex = 0;
  }

  renderNode(node, level) {
    const nodeKey = key(node.scope);
    const hasChildren = node.children && node.children.length > 0;
    const expanded = hasChildren && this.expanded.has(nodeKey);
    const selected = nodeKey === this.chosen;
    const item = h("li", {
      role: "treeitem", "aria-level": level, "aria-selected": String(selected), tabindex: "-1",
      "aria-expanded": hasChildren ? String(expanded) : null, dataset: { key: nodeKey },
    });
    const toggle = hasChildren
      ? h("span", { class: "toggle", "aria-hidden": "true", onclick: (event) => {
        event.stopPropagation();
        this.toggle(nodeKey);
      } }, expanded ? "▾" : "▸")
      : h("span", { class: "toggle", "aria-hidden": "true" }, "");
    const icon = node.icon ? h("span", { class: `icon icon-${node.icon.toLowerCase()}`, title: node.iconLabel || null, "aria-hidden": "true" }, node.icon) : null;
    const more = node.total > MAX_CHILDREN ? h("span", { class: "more" }, ` (first ${MAX_CHILDREN} of ${node.total})`) : null;
    item.append(h("span", { class: `node${selected ? " chosen" : ""}`, onclick: () => this.choose(node.scope) }, toggle, icon, node.label, more));
    if (expanded) {
      item.append(h("ul", { role: "group" }, node.children.map((child) => this.renderNode(child, level + 1))));
    }
    return item;
  }

  toggle(nodeKey) {
    if (this.expanded.has(nodeKey)) this.expanded.delete(nodeKey);
    else this.expanded.add(nodeKey);
    this.render();
    this.focus(nodeKey);
  }

  focus(nodeKey) {
    const item = this.element.querySelector(`[data-key="${CSS.escape(nodeKey)}"]`);
    if (!item) return;
    for (const other of this.element.querySelectorAll("[role=treeitem]")) other.tabIndex = -1;
    item.tabIndex = 0;
    item.focus();
  }

  /** Choose a node: groups (Clusters, Networks of a data center) choose their data center. */
  choose(scope) {
    const effective = scope.kind.endsWith("-of") ? { kind: "datacenter", id: scope.id }
      : ["datacenters", "providers"].includes(scope.kind) ? { kind: "system" } : scope;
    this.chosen = key(scope);
    this.render();
    this.focus(this.chosen);
    this.onChoose(effective);
  }

  keys(event) {
    const items = [...this.element.querySelectorAll("[role=treeitem]")];
    const current = document.activeElement.closest("[role=treeitem]");
    const index = items.indexOf(current);
    if (index < 0) return;
    const nodeKey = current.dataset.key;
    const moveTo = (other) => other && this.focus(other.dataset.key);
    switch (event.key) {
      case "ArrowDown": moveTo(items[index + 1]); break;
      case "ArrowUp": moveTo(items[index - 1]); break;
      case "ArrowRight":
        if (current.getAttribute("aria-expanded") === "false") this.toggle(nodeKey);
        else moveTo(items[index + 1]);
        break;
      case "ArrowLeft":
        if (current.getAttribute("aria-expanded") === "true") this.toggle(nodeKey);
        else moveTo(current.parentElement.closest("[role=treeitem]"));
        break;
      case "Enter":
      case " ": {
        const [kind, id] = nodeKey.split(":");
        this.choose(id ? { kind, id } : { kind });
        break;
      }
      default: return;
    }
    event.preventDefault();
  }
}
