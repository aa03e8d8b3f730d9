// Providers: external network providers (OpenStack Networking), their connection state, their networks live from
// the provider with the import pop-up, and the certificates they present.

import * as api from "../api.js";
import { checkbox, clear, faultView, field, h, notify, openDialog, select } from "../dom.js";
import { flag, general, objectLink, yesNo } from "./common.js";
import { runInBackground } from "../jobs.js";
import { importDialog, newProviderNetworkDialog } from "./provider_networks.js";

const connection = new Map(); // provider id -> {ok, reason, checking}

// oVirt's two kinds of network provider; both speak the OpenStack Networking API
export const PROVIDER_TYPES = { neutron: "OpenStack Networking", external: "External Network Provider" };

/** The green/red connection indicator, with the reason in words. */
export function indicator(state) {
  if (!state) return h("span", { class: "indicator unknown" }, "not tested");
  if (state.checking) return h("span", { class: "indicator unknown", role: "status" }, "testing…");
  if (state.ok) return h("span", { class: "indicator good", role: "status" }, h("span", { class: "dot", "aria-hidden": "true" }), "Connection succeeded");
  return h("span", { class: "indicator bad", role: "status" }, h("span", { class: "dot", "aria-hidden": "true" }),
    h("span", {}, "Connection failed: "), h("span", { class: "reason" }, state.reason));
}

async function test(providerId) {
  try {
    await api.action(`openstacknetworkproviders/${providerId}`, "testconnectivity");
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: error.detail || error.reason || error.message };
  }
}

function providerForm(given) {
  const provider = given || {};
  const value = (name) => provider[name] ?? "";
  const inputs = {
    name: h("input", { value: value("name"), required: true }),
    type: select(Object.entries(PROVIDER_TYPES), provider.type || "neutron"),
    description: h("input", { value: value("description") }),
    url: h("input", { value: value("url"), required: true, type: "url", placeholder: "http://server:9696" }),
    read_only: h("input", { type: "checkbox", checked: flag(provider.read_only) }),
    auto_sync: h("input", { type: "checkbox", checked: flag(provider.auto_sync) }),
    unmanaged: h("input", { type: "checkbox", checked: flag(provider.unmanaged) }),
    requires_authentication: h("input", { type: "checkbox", checked: provider.id ? flag(provider.requires_authentication) : true }),
    username: h("input", { value: value("username"), autocomplete: "off" }),
    password: h("input", { type: "password", autocomplete: "new-password",
      placeholder: provider.id ? "unchanged unless typed" : "" }),
    authentication_url: h("input", { value: value("authentication_url"), type: "url", placeholder: "http://server:5000/v3" }),
    project_name: h("input", { value: value("project_name") || value("tenant_name") }),
    user_domain_name: h("input", { value: provider.id ? value("user_domain_name") : "Default" }),
    project_domain_name: h("input", { value: provider.id ? value("project_domain_name") : "Default" }),
    plugin_type: select([["open_vswitch", "Open vSwitch"], ["", "other (external plugin)"]],
      provider.plugin_type ?? (provider.id ? "" : "open_vswitch")),
  };
  const check = (label, input, help) => {
    input.id = input.id || `check-${label.replace(/\W+/g, "-").toLowerCase()}`;
    return h("div", { class: "field check" }, input, h("label", { for: input.id }, label), help ? h("p", { class: "help" }, help) : null);
  };
  const auth = h("fieldset", {},
    h("legend", {}, "Authentication (Keystone)"),
    check("Requires authentication", inputs.requires_authentication),
    field("User name", inputs.username).row,
    field("Password", inputs.password, provider.id ? "Write-only: the engine never shows it. Leave empty to keep it." : "Write-only: the engine never shows it.").row,
    field("Authentication URL", inputs.authentication_url).row,
    field("Project name", inputs.project_name).row,
    field("User domain name", inputs.user_domain_name).row,
    field("Project domain name", inputs.project_domain_name).row);
  const syncAuth = () => {
    for (const name of ["username", "password", "authentication_url", "project_name", "user_domain_name", "project_domain_name"]) {
      inputs[name].disabled = !inputs.requires_authentication.checked;
    }
  };
  inputs.requires_authentication.addEventListener("change", syncAuth);
  syncAuth();
  const body = [
    field("Name", inputs.name).row,
    field("Description", inputs.description).row,
    field("Type", inputs.type).row,
    field("Provider URL", inputs.url).row,
    field("Networking plugin", inputs.plugin_type).row,
    check("Read-only", inputs.read_only, "Networks can be imported and used, not created or changed on the provider."),
    check("Automatic synchronization", inputs.auto_sync, "The engine imports and updates the provider's networks on its own."),
    check("Unmanaged", inputs.unmanaged, "The engine never calls this provider."),
    auth,
  ];
  const read = () => {
    const entity = {
      name: inputs.name.value.trim(), description: inputs.description.value, url: inputs.url.value.trim(),
      type: inputs.type.value, read_only: inputs.read_only.checked, auto_sync: inputs.auto_sync.checked,
      unmanaged: inputs.unmanaged.checked, requires_authentication: inputs.requires_authentication.checked,
    };
    if (inputs.plugin_type.value) entity.plugin_type = inputs.plugin_type.value;
    if (entity.requires_authentication) {
      Object.assign(entity, {
        username: inputs.username.value.trim(), authentication_url: inputs.authentication_url.value.trim(),
        project_name: inputs.project_name.value.trim(), tenant_name: inputs.project_name.value.trim(),
        user_domain_name: inputs.user_domain_name.value.trim(), project_domain_name: inputs.project_domain_name.value.trim(),
      });
      if (inputs.password.value) entity.password = inputs.password.value;
    }
    return entity;
  };
  return { body, read, inputs };
}

/**
 * The Add and Edit dialogs. Saving keeps the dialog open and tests the connection: the indicator turns green, or red
 * with the provider's reason (fix the fields and save again); an untrusted certificate offers its import.
 */
async function providerDialog(ctx, provider) {
  const form = providerForm(provider);
  let saved = provider || null;
  const light = h("div", { class: "connection", "aria-live": "polite" }, saved ? indicator(connection.get(saved.id)) : "");
  const testButton = h("button", { type: "button", disabled: !saved }, "Test");
  const trust = h("div", { class: "trust" });
  const runTest = async () => {
    if (!saved) return;
    light.replaceChildren(indicator({ checking: true }));
    const state = await test(saved.id);
    connection.set(saved.id, state);
    light.replaceChildren(indicator(state));
    clear(trust);
    if (!state.ok && /certificate/i.test(state.reason)) trust.append(await certificateOffer(saved, runTest));
    return state;
  };
  testButton.addEventListener("click", runTest);
  const result = await openDialog({
    title: provider ? `Edit provider ${provider.name}` : "Add provider",
    submitLabel: "Save and test",
    body: form.body,
    footer: [h("div", { class: "test-row" }, testButton, light), trust],
    wide: true,
    onSubmit: async ({ cancel }) => {
      const entity = form.read();
      saved = saved ? await api.update(`openstacknetworkproviders/${saved.id}`, entity)
        : await api.add("openstacknetworkproviders", entity);
      testButton.disabled = false;
      form.inputs.password.value = "";
      form.inputs.password.placeholder = "unchanged unless typed";
      cancel.textContent = "Close";
      ctx.refreshTree();
      await runTest();
      return false; // the dialog stays open with the indicator: green, or red with the reason to fix the fields by
    },
  });
  ctx.refresh();
  return result || saved;
}

const trusted = (cert) => String(cert.description || "").startsWith("imported");

async function certificateOffer(provider, retest) {
  try {
    const chain = await api.list(`openstacknetworkproviders/${provider.id}/certificates`);
    const untrusted = chain.filter((cert) => cert.content && !trusted(cert));
    if (!untrusted.length) return "";
    const importButton = h("button", { type: "button", onclick: async () => {
      await api.action(`openstacknetworkproviders/${provider.id}`, "importcertificates",
        { certificates: { certificate: untrusted.map((cert) => ({ content: cert.content })) } });
      notify(`Imported ${untrusted.length} certificate(s) of provider '${provider.name}'`);
      await retest();
    } }, "Import the certificates");
    return h("div", { class: "certificates" },
      h("p", {}, "The provider presents a certificate that is not trusted:"),
      h("ul", {}, untrusted.map((cert) => h("li", {}, `${cert.subject} (SHA-256 ${cert.id})`))),
      importButton);
  } catch (error) {
    return faultView(error);
  }
}

async function removeProvider(row, ctx) {
  const force = checkbox("Force (remove it even if its networks are imported)");
  await openDialog({
    title: `Remove provider ${row.name}`, submitLabel: "Remove",
    body: [h("p", {}, `Remove provider '${row.name}' from the engine? Its networks stay on the provider.`), force.row],
    onSubmit: () => api.remove(`openstacknetworkproviders/${row.id}`, force.input.checked ? { force: "true" } : {}),
  });
  ctx.refresh();
  ctx.refreshTree();
}

async function syncNow(row, ctx) {
  await runInBackground(`openstacknetworkproviders/${row.id}`, "sync", `Synchronizing provider '${row.name}'`);
  notify(`Provider '${row.name}' synchronized`);
  ctx.refresh();
  ctx.refreshTree();
}

function networksTab(row, panel, ctx) {
  return renderProviderNetworks(row, panel, ctx);
}

async function renderProviderNetworks(provider, panel, ctx) {
  const networks = await api.list(`openstacknetworkproviders/${provider.id}/networks`);
  const chosen = new Set();
  const importButton = h("button", { type: "button", disabled: true, onclick: async () => {
    const picked = networks.filter((n) => chosen.has(n.id));
    if (await importDialog(ctx, provider, picked)) renderProviderNetworks(provider, panel, ctx);
  } }, "Import");
  const newButton = h("button", { type: "button", disabled: flag(provider.read_only), title: flag(provider.read_only) ? `Provider '${provider.name}' is read-only` : null,
    onclick: async () => {
      if (await newProviderNetworkDialog(ctx, provider)) renderProviderNetworks(provider, panel, ctx);
    } }, "New network on provider");
  const rows = networks.map((network) => {
    const box = h("input", { type: "checkbox", "aria-label": `Choose network ${network.name}`, onchange: (event) => {
      if (event.target.checked) chosen.add(network.id);
      else chosen.delete(network.id);
      importButton.disabled = chosen.size === 0;
    } });
    const places = network.data_centers?.data_center || [];
    return h("tr", {}, h("td", {}, box), h("td", {}, network.name), h("td", { class: "mono" }, network.id),
      h("td", {}, places.length ? places.map((dc, i) => [i ? ", " : "", objectLink(ctx, "datacenters", dc)]) : "not imported"));
  });
  clear(panel,
    h("div", { class: "actions", role: "toolbar", "aria-label": "Provider network actions" }, importButton, newButton),
    h("table", { class: "grid" }, h("caption", { class: "visually-hidden" }, `Networks on provider ${provider.name}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Choose")),
        h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "ID on the provider"), h("th", { scope: "col" }, "Imported into"))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 4, class: "empty" }, "The provider has no networks")))));
}

async function certificatesTab(provider, panel) {
  const chain = await api.list(`openstacknetworkproviders/${provider.id}/certificates`);
  clear(panel, chain.length ? h("table", { class: "grid" },
    h("caption", { class: "visually-hidden" }, "Certificates the provider presents"),
    h("thead", {}, h("tr", {}, ["Subject", "SHA-256 fingerprint", "Trusted"].map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, chain.map((cert) => h("tr", {}, h("td", {}, cert.subject), h("td", { class: "mono" }, cert.id), h("td", {}, yesNo(trusted(cert)))))))
    : h("p", {}, "The provider presents no certificate (plain HTTP)."));
}

function generalTab(provider, panel, ctx) {
  const light = h("span", {}, indicator(connection.get(provider.id)));
  const retest = async () => {
    light.replaceChildren(indicator({ checking: true }));
    const state = await test(provider.id);
    connection.set(provider.id, state);
    light.replaceChildren(indicator(state));
  };
  general((p) => [
    ["Name", p.name], ["Description", p.description], ["Type", PROVIDER_TYPES[p.type] || p.type], ["Provider URL", p.url],
    ["Networking plugin", p.plugin_type === "open_vswitch" ? "Open vSwitch" : p.external_plugin_type],
    ["Read-only", yesNo(p.read_only)], ["Automatic synchronization", yesNo(p.auto_sync)], ["Unmanaged", yesNo(p.unmanaged)],
    ["Requires authentication", yesNo(p.requires_authentication)], ["User name", p.username],
    ["Authentication URL", p.authentication_url], ["Project", p.project_name || p.tenant_name], ["ID", p.id],
    ["Connection", h("span", {}, light, " ", h("button", { type: "button", onclick: retest }, "Test"))],
  ])(provider, panel, ctx);
}

export const providers = {
  id: "providers", label: "Providers", singular: "Provider", searchable: true,
  load: async (ctx, params) => {
    const rows = await api.list("openstacknetworkproviders", params);
    // tested again at each load (the state is live); the last result stays shown until the new one arrives
    for (const row of rows.filter((r) => !flag(r.unmanaged))) {
      if (!connection.has(row.id)) connection.set(row.id, { checking: true });
      if (!connection.get(row.id).pending) {
        connection.get(row.id).pending = true;
        test(row.id).then((state) => {
          connection.set(row.id, state);
          for (const cell of document.querySelectorAll(`[data-connection="${row.id}"]`)) cell.replaceChildren(indicator(state));
        });
      }
    }
    return rows;
  },
  columns: () => [
    { key: "name", label: "Name", value: (p) => p.name },
    { key: "type", label: "Type", value: (p) => h("span", {}, h("span", { class: `icon icon-${p.type === "external" ? "e" : "n"}`, "aria-hidden": "true" },
      p.type === "external" ? "E" : "N"), ` ${PROVIDER_TYPES[p.type] || p.type}`) },
    { key: "url", label: "Provider URL", value: (p) => p.url },
    { key: "description", label: "Description", value: (p) => p.description },
    { key: "auto_sync", label: "Auto-sync", value: (p) => yesNo(p.auto_sync) },
    { key: "connection", label: "Connection", value: (p) => (flag(p.unmanaged) ? "unmanaged"
      : h("span", { dataset: { connection: p.id } }, indicator(connection.get(p.id)))),
    sortValue: (p) => (connection.get(p.id)?.ok ? 0 : 1) },
  ],
  inScope: (p, scope) => scope.kind !== "provider" || p.id === scope.id,
  actions: [
    { label: "Add", run: (row, ctx) => providerDialog(ctx, null) },
    { label: "Edit", needsRow: true, run: (row, ctx) => providerDialog(ctx, row) },
    { label: "Remove", needsRow: true, run: removeProvider },
    { label: "Synchronize", needsRow: true, enabled: (row) => !flag(row.unmanaged), run: syncNow },
  ],
  details: [
    { label: "General", render: generalTab },
    { label: "Networks", render: networksTab },
    { label: "Certificates", render: (row, panel) => certificatesTab(row, panel) },
  ],
};
