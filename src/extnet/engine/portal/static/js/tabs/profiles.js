// vNIC profiles, and the SecurityGroups custom property picked from the groups on the network's provider.

import * as api from "../api.js";
import { clear, faultView, field, h, openDialog, select } from "../dom.js";
import { general, objectLink, yesNo } from "./common.js";

const GROUPS = "SecurityGroups";

function groupsOf(profile) {
  const found = (profile.custom_properties?.custom_property || []).find((p) => p.name === GROUPS);
  return found ? found.value.split(",").map((s) => s.trim()).filter(Boolean) : [];
}

/** The provider's security groups as check boxes, the profile's own ticked; {element, chosen()}. */
async function groupPicker(ctx, network, current) {
  const providerId = network?.external_provider?.id;
  if (!providerId) {
    return { element: h("p", { class: "help" }, "Security groups apply to vNIC profiles of external networks only."), chosen: () => null };
  }
  const box = h("fieldset", { class: "groups" }, h("legend", {}, `Security groups (from provider '${ctx.inventory.name(network.external_provider)}')`));
  let groups = [];
  try {
    groups = await api.list(`openstacknetworkproviders/${providerId}/securitygroups`);
  } catch (error) {
    box.append(faultView(error));
    return { element: box, chosen: () => current };
  }
  const inputs = groups.map((group) => {
    const input = h("input", { type: "checkbox", value: group.id, checked: current.includes(group.id), id: `group-${group.id}` });
    box.append(h("div", { class: "field check" }, input, h("label", { for: input.id }, group.name || group.id),
      group.description ? h("span", { class: "help" }, ` ${group.description}`) : null));
    return input;
  });
  const unknown = current.filter((id) => !groups.some((g) => g.id === id));
  if (unknown.length) box.append(h("p", { class: "fault" }, `Not on the provider: ${unknown.join(", ")}`));
  if (!groups.length) box.append(h("p", {}, "The provider has no security groups."));
  return { element: box, chosen: () => inputs.filter((i) => i.checked).map((i) => i.value) };
}

async function profileDialog(ctx, profile) {
  await ctx.inventory.load();
  const name = h("input", { value: profile?.name || "", required: true });
  const description = h("input", { value: profile?.description || "" });
  const network = select(ctx.inventory.networks.map((n) => [n.id, `${n.name} (${ctx.inventory.name(n.data_center)})`]), profile?.network?.id);
  network.disabled = Boolean(profile);
  const pickerPlace = h("div", {});
  let picker = null;
  const showPicker = async () => {
    const chosenNetwork = ctx.inventory.networks.find((n) => n.id === network.value);
    picker = await groupPicker(ctx, chosenNetwork, profile ? groupsOf(profile) : []);
    clear(pickerPlace, picker.element);
  };
  network.addEventListener("change", showPicker);
  await showPicker();
  const saved = await openDialog({
    title: profile ? `Edit vNIC profile ${profile.name}` : "New vNIC profile", submitLabel: profile ? "Save" : "Create",
    body: [field("Name", name).row, field("Description", description).row, field("Network", network).row, pickerPlace],
    onSubmit: () => {
      const entity = { name: name.value.trim(), description: description.value };
      const groups = picker?.chosen();
      if (groups !== null && groups !== undefined) {
        const others = (profile?.custom_properties?.custom_property || []).filter((p) => p.name !== GROUPS);
        entity.custom_properties = { custom_property: [...others, ...(groups.length ? [{ name: GROUPS, value: groups.join(",") }] : [])] };
      }
      if (profile) return api.update(`vnicprofiles/${profile.id}`, entity);
      entity.network = { id: network.value };
      return api.add("vnicprofiles", entity);
    },
  });
  if (saved) ctx.refresh();
}

async function removeProfile(profile, ctx) {
  const removed = await openDialog({ title: `Remove vNIC profile ${profile.name}`, submitLabel: "Remove",
    body: h("p", {}, `Remove vNIC profile '${profile.name}'?`), onSubmit: () => api.remove(`vnicprofiles/${profile.id}`) });
  if (removed) ctx.refresh();
}

export const profiles = {
  id: "vnicprofiles", label: "vNIC Profiles", singular: "vNIC profile", searchable: false,
  load: () => api.list("vnicprofiles"),
  columns: (ctx) => [
    { key: "name", label: "Name", value: (p) => p.name },
    { key: "network", label: "Network", value: (p) => objectLink(ctx, "networks", p.network) },
    { key: "dc", label: "Data center", value: (p) => {
      const dc = ctx.inventory.dataCenterOfNetwork(p.network?.id);
      return dc ? objectLink(ctx, "datacenters", { id: dc }) : "";
    } },
    { key: "groups", label: "Security groups", value: (p) => groupsOf(p).join(", ") },
    { key: "description", label: "Description", value: (p) => p.description },
  ],
  inScope: (p, scope, inv) => (scope.kind === "provider" ? inv.providerOfNetwork(p.network?.id) === scope.id
    : scope.kind === "network" ? p.network?.id === scope.id : inv.inPlace(scope, inv.dataCenterOfNetwork(p.network?.id))),
  actions: [
    { label: "New", run: (row, ctx) => profileDialog(ctx, null) },
    { label: "Edit", needsRow: true, run: (row, ctx) => profileDialog(ctx, row) },
    { label: "Remove", needsRow: true, run: removeProfile },
  ],
  details: [{ label: "General", render: general((p, ctx) => [
    ["Name", p.name], ["Description", p.description], ["Network", objectLink(ctx, "networks", p.network)],
    ["Security groups", groupsOf(p).join(", ")], ["Port mirroring", yesNo(p.port_mirroring)],
    ["Passthrough", p.pass_through?.mode], ["Migratable", yesNo(p.migratable)], ["ID", p.id],
  ]) }],
};
