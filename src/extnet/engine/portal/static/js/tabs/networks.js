// Networks: logical networks of the data centers, external ones linking to their provider; the Subnets sub-tab
// reads an external network's subnets live from its provider.

import * as api from "../api.js";
import { checkbox, clear, field, h, notify, openDialog, select } from "../dom.js";
import { flag, general, objectLink, status, yesNo } from "./common.js";
import { newProviderNetworkDialog, subnetForm } from "./provider_networks.js";

const isExternal = (network) => Boolean(network.external_provider);
const mtuText = (network) => (Number(network.mtu) ? network.mtu : "default"); // 0: the default MTU

function providerOf(ctx, network) {
  return ctx.inventory.providers.find((p) => p.id === network.external_provider?.id) || null;
}

/** What the external-network rules forbid for this network, by field: the reason shown greyed, on hover. */
function externalReasons(ctx, network) {
  if (!isExternal(network)) return {};
  const provider = ctx.inventory.name(network.external_provider);
  const from = `comes from provider '${provider}'`;
  return {
    vlan: `The VLAN of external network '${network.name}' ${from}`,
    mtu: `The MTU of external network '${network.name}' ${from}`,
    vm: `An external network is always a VM network`,
  };
}

async function networkDialog(ctx, network) {
  await ctx.inventory.load();
  const reasons = network ? externalReasons(ctx, network) : {};
  const name = h("input", { value: network?.name || "", required: true });
  const description = h("input", { value: network?.description || "" });
  const comment = h("input", { value: network?.comment || "" });
  const vlan = h("input", { type: "number", min: 0, max: 4094, value: network?.vlan?.id ?? "", disabled: Boolean(reasons.vlan), title: reasons.vlan });
  const mtu = h("input", { type: "number", min: 0, value: Number(network?.mtu) ? network.mtu : "", disabled: Boolean(reasons.mtu), title: reasons.mtu,
    placeholder: "default" });
  const vmNetwork = checkbox("VM network", network ? (network.usages?.usage || []).includes("vm") : true,
    reasons.vm || "Carries the traffic of VMs");
  if (reasons.vm) {
    vmNetwork.input.disabled = true;
    vmNetwork.input.title = reasons.vm;
  }
  const dc = select(ctx.inventory.dataCenters.map((d) => [d.id, d.name]), network?.data_center?.id);
  dc.disabled = Boolean(network);
  const rows = [field("Name", name).row, field("Description", description).row, field("Comment", comment).row,
    field("Data center", dc).row,
    field("VLAN tag", vlan, reasons.vlan || "Empty: no VLAN").row,
    field("MTU", mtu, reasons.mtu || "Empty: the default").row, vmNetwork.row];
  const saved = await openDialog({
    title: network ? `Edit network ${network.name}` : "New logical network", submitLabel: network ? "Save" : "Create",
    body: rows,
    onSubmit: () => {
      const entity = { name: name.value.trim(), description: description.value, comment: comment.value };
      if (!isExternal(network || {})) {
        entity.vlan = vlan.value === "" ? undefined : { id: Number(vlan.value) };
        if (mtu.value !== "") entity.mtu = Number(mtu.value);
        entity.usages = { usage: vmNetwork.input.checked ? ["vm"] : [] };
      }
      if (!network) {
        entity.data_center = { id: dc.value };
        return api.add("networks", entity);
      }
      return api.update(`networks/${network.id}`, entity);
    },
  });
  if (saved) {
    ctx.refresh();
    ctx.refreshTree();
  }
}

async function removeNetwork(network, ctx) {
  const provider = providerOf(ctx, network);
  const fromProvider = checkbox("Delete from external provider", false,
    flag(provider?.read_only) ? `Provider '${provider.name}' is read-only: the network stays there` : `Also delete the network on provider '${ctx.inventory.name(network.external_provider)}'`);
  if (flag(provider?.read_only) || flag(provider?.unmanaged)) fromProvider.input.disabled = true;
  const removed = await openDialog({
    title: `Remove network ${network.name}`, submitLabel: "Remove",
    body: [h("p", {}, `Remove network '${network.name}' from data center '${ctx.inventory.name(network.data_center)}'?`),
      isExternal(network) ? fromProvider.row : null],
    onSubmit: () => api.remove(`networks/${network.id}`, fromProvider.input.checked ? { remove_from_provider: "true" } : {}),
  });
  if (removed) {
    notify(`Network '${network.name}' removed${fromProvider.input.checked ? " from the engine and its provider" : ""}`);
    ctx.refresh();
    ctx.refreshTree();
  }
}

function subnetsPath(network) {
  return `${api.pathOf(network.openstack_network)}/subnets`;
}

async function subnetsTab(network, panel, ctx) {
  if (!isExternal(network)) {
    clear(panel, h("p", {}, "Only external networks have subnets here; their provider keeps them."));
    return;
  }
  if (!network.openstack_network) {
    clear(panel, h("p", {}, "This engine does not say which provider network this is."));
    return;
  }
  const provider = providerOf(ctx, network);
  const readOnly = flag(provider?.read_only) ? `Provider '${provider.name}' is read-only` : null;
  const subnets = await api.list(subnetsPath(network));
  const addButton = h("button", { type: "button", disabled: Boolean(readOnly), title: readOnly, onclick: async () => {
    const form = subnetForm();
    const added = await openDialog({
      title: `New subnet on ${network.name}`, submitLabel: "Create", body: form.rows,
      onSubmit: () => api.add(subnetsPath(network), form.read()),
    });
    if (added) subnetsTab(network, panel, ctx);
  } }, "New subnet");
  const rows = subnets.map((subnet) => h("tr", {},
    h("td", {}, subnet.name || ""), h("td", { class: "mono" }, subnet.cidr), h("td", {}, subnet.ip_version),
    h("td", { class: "mono" }, subnet.gateway || ""), h("td", {}, (subnet.dns_servers?.dns_server || []).join(", ")),
    h("td", {}, h("button", { type: "button", disabled: Boolean(readOnly), title: readOnly,
      "aria-label": `Remove subnet ${subnet.name || subnet.cidr}`, onclick: async () => {
        const removed = await openDialog({ title: `Remove subnet ${subnet.name || subnet.cidr}`, submitLabel: "Remove",
          body: h("p", {}, `Remove subnet ${subnet.cidr} from network '${network.name}' on its provider?`),
          onSubmit: () => api.remove(`${subnetsPath(network)}/${subnet.id}`) });
        if (removed) subnetsTab(network, panel, ctx);
      } }, "Remove"))));
  clear(panel, h("div", { class: "actions", role: "toolbar", "aria-label": "Subnet actions" }, addButton),
    h("table", { class: "grid" }, h("caption", { class: "visually-hidden" }, `Subnets of ${network.name}`),
      h("thead", {}, h("tr", {}, ["Name", "CIDR", "IP version", "Gateway", "DNS servers", "Actions"].map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No subnets")))));
}

async function profilesTab(network, panel, ctx) {
  const profiles = await api.list(`networks/${network.id}/vnicprofiles`);
  clear(panel, profiles.length ? h("ul", {}, profiles.map((p) => h("li", {}, objectLink(ctx, "vnicprofiles", p, p.name))))
    : h("p", {}, "No vNIC profiles"));
}

export const networks = {
  id: "networks", label: "Networks", singular: "Network", searchable: true,
  load: (ctx, params) => api.list("networks", params),
  columns: (ctx) => [
    { key: "name", label: "Name", value: (n) => n.name },
    { key: "dc", label: "Data center", value: (n) => objectLink(ctx, "datacenters", n.data_center) },
    { key: "provider", label: "Provider", value: (n) => (n.external_provider ? objectLink(ctx, "providers", n.external_provider) : "") },
    { key: "vlan", label: "VLAN", value: (n) => n.vlan?.id ?? "", sortValue: (n) => Number(n.vlan?.id ?? -1) },
    { key: "mtu", label: "MTU", value: (n) => mtuText(n), sortValue: (n) => Number(n.mtu || 0) },
    { key: "status", label: "Status", value: (n) => status(n.status || "operational") },
    { key: "description", label: "Description", value: (n) => n.description },
  ],
  inScope: (n, scope, inv) => (scope.kind === "provider" ? n.external_provider?.id === scope.id
    : scope.kind === "network" ? n.id === scope.id : inv.inPlace(scope, n.data_center?.id)),
  actions: [
    { label: "New", run: (row, ctx) => networkDialog(ctx, null) },
    { label: "New external", run: (row, ctx) => newProviderNetworkDialog(ctx, null) },
    { label: "Edit", needsRow: true, run: (row, ctx) => networkDialog(ctx, row) },
    { label: "Remove", needsRow: true, run: removeNetwork },
  ],
  details: [
    { label: "General", render: general((n, ctx) => [
      ["Name", n.name], ["Description", n.description], ["Data center", objectLink(ctx, "datacenters", n.data_center)],
      ["Provider", n.external_provider ? objectLink(ctx, "providers", n.external_provider) : "none (a local network)"],
      ["Network on the provider", n.openstack_network?.id], ["Physical network", n.external_provider_physical_network?.name],
      ["VLAN", n.vlan?.id], ["MTU", mtuText(n)], ["VM network", yesNo((n.usages?.usage || []).includes("vm"))],
      ["Status", status(n.status || "operational")], ["Host device name", n.vdsm_name], ["ID", n.id],
    ]) },
    { label: "Subnets", render: subnetsTab },
    { label: "vNIC Profiles", render: profilesTab },
  ],
};

