// Virtual machines: create from Blank, start, stop, migrate, remove; the Network Interfaces sub-tab with each
// vNIC's profile, MAC, its port on the provider (live: status, host binding) and the addresses its host reports.

import * as api from "../api.js";
import { checkbox, clear, faultView, field, formatTime, h, notify, openDialog, select } from "../dom.js";
import { flag, general, objectLink, status } from "./common.js";

const PORT_POLL_MS = 3000;

async function profileOptions(ctx) {
  const profiles = await api.list("vnicprofiles");
  return profiles.map((p) => [p.id, `${p.name} / ${ctx.inventory.name(p.network)}`]);
}

async function newVmDialog(ctx) {
  await ctx.inventory.load();
  const name = h("input", { required: true });
  const description = h("input", {});
  const cluster = select(ctx.inventory.clusters.map((c) => [c.id, `${c.name} (${ctx.inventory.name(c.data_center)})`]));
  const memory = h("input", { type: "number", min: 64, value: 512 });
  const profile = select([["", "no network interface"], ...await profileOptions(ctx)], "");
  const vm = await openDialog({
    title: "New virtual machine", submitLabel: "Create",
    body: [field("Name", name).row, field("Description", description).row, field("Cluster", cluster).row,
      field("Template", h("input", { value: "Blank", disabled: true })).row,
      field("Memory (MiB)", memory).row, field("vNIC profile of nic1", profile, "Empty: add interfaces later").row],
    onSubmit: async () => {
      const created = await api.add("vms", { name: name.value.trim(), description: description.value, cluster: { id: cluster.value },
        template: { name: "Blank" }, memory: Number(memory.value) * 1024 * 1024 });
      if (profile.value) {
        try {
          await api.add(`vms/${created.id}/nics`, { name: "nic1", vnic_profile: { id: profile.value } });
        } catch (error) {
          notify(`VM '${created.name}' was created, but its network interface was not: ${error.message}`, "error");
        }
      }
      return created;
    },
  });
  if (vm) ctx.open("vms", vm.id);
}

async function runAction(vm, ctx, name, [doing, done]) {
  notify(`${doing} VM '${vm.name}'…`);
  await api.action(`vms/${vm.id}`, name, {});
  notify(`VM '${vm.name}' ${done}`);
  ctx.refresh();
}

async function migrateDialog(vm, ctx) {
  // read now, not from the inventory: a host added or brought up a moment ago is a destination too
  const hosts = (await api.list("hosts")).filter((host) => host.id !== vm.host?.id && host.status === "up"
    && host.cluster?.id === vm.cluster?.id);
  const host = select([["", "chosen by the engine"], ...hosts.map((x) => [x.id, x.name])], "");
  const moved = await openDialog({ title: `Migrate VM ${vm.name}`, submitLabel: "Migrate",
    body: field("Destination host", host).row,
    onSubmit: () => api.action(`vms/${vm.id}`, "migrate", host.value ? { host: { id: host.value } } : {}) });
  if (moved) ctx.refresh();
}

async function removeVm(vm, ctx) {
  const removed = await openDialog({ title: `Remove VM ${vm.name}`, submitLabel: "Remove",
    body: h("p", {}, `Remove VM '${vm.name}'? Its network interfaces' ports are removed from their providers.`),
    onSubmit: () => api.remove(`vms/${vm.id}`) });
  if (removed) ctx.refresh();
}

function addresses(devices) {
  return devices.flatMap((device) => (device.ips?.ip || []).map((ip) => ip.address));
}

function portCells(port, ctx) {
  if (!port) return ["no port", "", "", ""];
  const host = ctx.inventory.hostOfBinding(port.binding_host_id);
  const binding = host ? h("span", { title: `binding:host_id ${port.binding_host_id}` }, objectLink(ctx, "hosts", host))
    : port.binding_host_id || "unbound";
  const ips = (port.fixed_ips?.fixed_ip || []).map((ip) => ip.ip_address).join(", ");
  return [status(port.status), binding, h("span", { class: "mono" }, ips), h("span", { class: "mono" }, port.id)];
}

async function nicDialog(vm, ctx, nic) {
  const options = await profileOptions(ctx);
  const name = h("input", { value: nic?.name || `nic${Date.now() % 1000}`, required: true });
  const profile = select([["", "empty (no network)"], ...options], nic?.vnic_profile?.id || options[0]?.[0] || "");
  const plugged = checkbox("Plugged", nic ? flag(nic.plugged) : true);
  const linked = checkbox("Link up", nic ? flag(nic.linked) : true);
  const saved = await openDialog({
    title: nic ? `Edit interface ${nic.name} of ${vm.name}` : `New network interface of ${vm.name}`, submitLabel: nic ? "Save" : "Create",
    body: [field("Name", name).row, field("vNIC profile", profile).row, plugged.row, linked.row],
    onSubmit: () => {
      const entity = { name: name.value.trim(), vnic_profile: profile.value ? { id: profile.value } : {},
        plugged: plugged.input.checked, linked: linked.input.checked };
      return nic ? api.update(`vms/${vm.id}/nics/${nic.id}`, entity) : api.add(`vms/${vm.id}/nics`, entity);
    },
  });
  return saved;
}

async function nicsTab(vm, panel, ctx) {
  const nics = await api.list(`vms/${vm.id}/nics`);
  const render = () => nicsTab(vm, panel, ctx);
  const rows = nics.map((nic) => {
    const portPlace = [h("td", {}, "…"), h("td", {}, "…"), h("td", {}, "…"), h("td", {}, "…")];
    const addressCell = h("td", { class: "mono" }, "");
    const act = (label, run) => h("button", { type: "button", onclick: async () => {
      try {
        if (await run()) render();
      } catch (error) {
        notify(error.message, "error");
      }
    } }, label);
    const row = h("tr", { dataset: { nic: nic.name } },
      h("td", {}, nic.name), h("td", {}, nic.vnic_profile ? objectLink(ctx, "vnicprofiles", nic.vnic_profile) : "empty"),
      h("td", { class: "mono" }, nic.mac?.address || ""), h("td", {}, flag(nic.plugged) ? "plugged" : "unplugged"),
      ...portPlace, addressCell,
      h("td", { class: "row-actions" },
        act(flag(nic.plugged) ? "Unplug" : "Plug", () => api.action(`vms/${vm.id}/nics/${nic.id}`, flag(nic.plugged) ? "deactivate" : "activate")),
        act("Edit", () => nicDialog(vm, ctx, nic)),
        act("Remove", () => openDialog({ title: `Remove interface ${nic.name}`, submitLabel: "Remove",
          body: h("p", {}, `Remove network interface '${nic.name}' of VM '${vm.name}'?`),
          onSubmit: () => api.remove(`vms/${vm.id}/nics/${nic.id}`) }))));
    const refreshLive = async () => {
      try {
        const [ports, devices] = await Promise.all([
          api.list(`vms/${vm.id}/nics/${nic.id}/openstackports`).catch((error) => ({ error })),
          api.list(`vms/${vm.id}/nics/${nic.id}/reporteddevices`).catch(() => []),
        ]);
        if (ports.error) {
          portPlace[0].replaceChildren(faultView(ports.error));
        } else {
          portCells(ports[0], ctx).forEach((cell, i) => portPlace[i].replaceChildren(cell));
        }
        addressCell.textContent = addresses(devices).join(", ");
      } catch {
        // shown again at the next poll
      }
    };
    return { row, refreshLive };
  });
  const add = h("button", { type: "button", onclick: async () => {
    if (await nicDialog(vm, ctx, null)) render();
  } }, "New");
  clear(panel, h("div", { class: "actions", role: "toolbar", "aria-label": "Network interface actions" }, add),
    h("div", { class: "table-wrap" }, h("table", { class: "grid" }, h("caption", { class: "visually-hidden" }, `Network interfaces of ${vm.name}`),
      h("thead", {}, h("tr", {}, ["Name", "vNIC profile", "MAC", "Plugged", "Port status", "Host binding", "Port addresses", "Port ID",
        "Reported addresses", "Actions"]
        .map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, rows.length ? rows.map((r) => r.row) : h("tr", {}, h("td", { colspan: 10, class: "empty" }, "No network interfaces"))))));
  const poll = async () => {
    if (!panel.isConnected || !rows.length || !rows[0].row.isConnected) return;
    await Promise.all(rows.map((r) => r.refreshLive()));
    setTimeout(poll, PORT_POLL_MS);
  };
  poll();
}

export const vms = {
  id: "vms", label: "Virtual Machines", singular: "VM", searchable: true,
  load: (ctx, params) => api.list("vms", params),
  columns: (ctx) => [
    { key: "name", label: "Name", value: (vm) => vm.name },
    { key: "status", label: "Status", value: (vm) => status(vm.status) },
    { key: "cluster", label: "Cluster", value: (vm) => objectLink(ctx, "clusters", vm.cluster) },
    { key: "host", label: "Host", value: (vm) => (vm.host ? objectLink(ctx, "hosts", vm.host) : "") },
    { key: "memory", label: "Memory (MiB)", value: (vm) => Math.round((vm.memory || 0) / 1048576), sortValue: (vm) => vm.memory || 0 },
    { key: "description", label: "Description", value: (vm) => vm.description },
  ],
  inScope: (vm, scope, inv) => inv.inPlace(scope, inv.dataCenterOfCluster(vm.cluster?.id), vm.cluster?.id),
  actions: [
    { label: "New", run: (row, ctx) => newVmDialog(ctx) },
    { label: "Run", needsRow: true, enabled: (vm) => vm.status === "down", run: (vm, ctx) => runAction(vm, ctx, "start", ["Starting", "is up"]) },
    { label: "Shut down", needsRow: true, enabled: (vm) => vm.status !== "down", run: (vm, ctx) => runAction(vm, ctx, "shutdown", ["Shutting down", "is down"]) },
    { label: "Power off", needsRow: true, enabled: (vm) => vm.status !== "down", run: (vm, ctx) => runAction(vm, ctx, "stop", ["Powering off", "is down"]) },
    { label: "Migrate", needsRow: true, enabled: (vm) => vm.status === "up", run: migrateDialog },
    { label: "Remove", needsRow: true, enabled: (vm) => vm.status === "down", run: removeVm },
  ],
  details: [
    { label: "General", render: general((vm, ctx) => [
      ["Name", vm.name], ["Description", vm.description], ["Status", status(vm.status)],
      ["Cluster", objectLink(ctx, "clusters", vm.cluster)], ["Host", vm.host ? objectLink(ctx, "hosts", vm.host) : "not running"],
      ["Template", vm.template?.id ? "Blank" : ""], ["Memory (MiB)", Math.round((vm.memory || 0) / 1048576)],
      ["Started", formatTime(vm.start_time)], ["Created", formatTime(vm.creation_time)], ["ID", vm.id],
    ]) },
    { label: "Network Interfaces", render: nicsTab },
  ],
};
