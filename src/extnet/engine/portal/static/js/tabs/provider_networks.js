// The seed's import pop-up (networks of a provider -> data centers), creating a network on a provider, and the
// subnet form shared with the Networks tab.

import * as api from "../api.js";
import { flag } from "./common.js";
import { checkbox, clear, faultView, field, h, openDialog, select } from "../dom.js";

function dataCenterChoice(ctx, preferred) {
  const options = ctx.inventory.dataCenters.map((dc) => [dc.id, dc.name]);
  return select(options, preferred || options[0]?.[0]);
}

/**
 * Import ``networks`` of ``provider``: a target data center per network, "attach to all clusters" and "public"
 * options; the import runs network by network and shows its progress and each network's result (the engine's
 * fault as it is). Resolves true when at least one network was imported.
 */
export async function importDialog(ctx, provider, networks) {
  await ctx.inventory.load();
  let imported = 0;
  const rows = networks.map((network) => {
    const dc = dataCenterChoice(ctx);
    dc.setAttribute("aria-label", `Data center for network ${network.name}`);
    const attach = h("input", { type: "checkbox", checked: true, "aria-label": `Attach ${network.name} to all clusters` });
    const isPublic = h("input", { type: "checkbox", checked: true, "aria-label": `Network ${network.name} is public` });
    const result = h("td", { class: "result", "aria-live": "polite" }, "");
    return { network, dc, attach, isPublic, result,
      element: h("tr", {}, h("td", {}, network.name), h("td", {}, dc), h("td", {}, attach), h("td", {}, isPublic), result) };
  });
  const progress = h("progress", { max: rows.length, value: 0, "aria-label": "Import progress" });
  const progressText = h("span", { role: "status" }, "");
  const body = [
    h("p", {}, `Import networks of provider '${provider.name}' into data centers.`),
    h("table", { class: "grid import" },
      h("caption", { class: "visually-hidden" }, "Networks to import"),
      h("thead", {}, h("tr", {}, ["Network", "Data center", "Attach to all clusters", "Public", "Result"]
        .map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, rows.map((row) => row.element))),
    h("div", { class: "progress" }, progress, " ", progressText),
  ];
  await openDialog({
    title: "Import networks", submitLabel: "Import", body, wide: true,
    onSubmit: async ({ submit, cancel }) => {
      let done = 0;
      for (const row of rows) {
        if (row.done) {
          done += 1;
          continue;
        }
        progressText.textContent = `Importing ${row.network.name} (${done + 1} of ${rows.length})…`;
        clear(row.result, "importing…");
        try {
          await api.action(`openstacknetworkproviders/${provider.id}/networks/${row.network.id}`, "import", {
            data_center: { id: row.dc.value }, attach_to_all_clusters: row.attach.checked, public_use: row.isPublic.checked,
          });
          row.done = true;
          imported += 1;
          clear(row.result, h("span", { class: "status good" }, h("span", { class: "dot", "aria-hidden": "true" }), "imported"));
        } catch (error) {
          clear(row.result, faultView(error));
        }
        done += 1;
        progress.value = done;
      }
      const failed = rows.filter((row) => !row.done).length;
      progressText.textContent = failed ? `${rows.length - failed} imported, ${failed} failed: see each network`
        : `All ${rows.length} imported`;
      submit.textContent = failed ? "Import the failed ones again" : "Imported";
      if (!failed) submit.dataset.done = "true";
      cancel.textContent = "Close";
      return false; // the dialog stays open with each network's result until closed
    },
  });
  ctx.refreshTree();
  return imported > 0;
}

/** The fields of a subnet: {rows, read()} giving the engine's <openstack_subnet>. */
export function subnetForm({ optional = false } = {}) {
  const name = h("input", { required: !optional });
  const cidr = h("input", { placeholder: "10.0.0.0/24", required: !optional });
  const version = select([["v4", "IPv4"], ["v6", "IPv6"]], "v4");
  const gateway = h("input", { placeholder: "10.0.0.1 (empty: the provider's default)" });
  const dns = h("input", { placeholder: "8.8.8.8, 1.1.1.1" });
  const rows = [field("Subnet name", name).row, field("CIDR", cidr).row, field("IP version", version).row,
    field("Gateway", gateway).row, field("DNS servers", dns, "Separated by commas").row];
  const read = () => {
    if (optional && !cidr.value.trim()) return null;
    const subnet = { name: name.value.trim() || `subnet-${cidr.value.trim()}`, cidr: cidr.value.trim(), ip_version: version.value };
    if (gateway.value.trim()) subnet.gateway = gateway.value.trim();
    const servers = dns.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (servers.length) subnet.dns_servers = { dns_server: servers };
    return subnet;
  };
  return { rows, read };
}

/** Create a network on the provider and import it into a data center, with an optional first subnet. */
export async function newProviderNetworkDialog(ctx, provider, preferredDc) {
  await ctx.inventory.load();
  const name = h("input", { required: true });
  const description = h("input", {});
  const dc = dataCenterChoice(ctx, preferredDc);
  const withSubnet = checkbox("Create a first subnet", false);
  const subnet = subnetForm({ optional: true });
  const subnetBox = h("fieldset", { hidden: true }, h("legend", {}, "First subnet"), subnet.rows);
  withSubnet.input.addEventListener("change", () => {
    subnetBox.hidden = !withSubnet.input.checked;
  });
  const providers = ctx.inventory.providers.filter((p) => !flag(p.read_only) && !flag(p.unmanaged));
  const providerChoice = select(providers.map((p) => [p.id, p.name]), provider?.id);
  const created = await openDialog({
    title: "New external network", submitLabel: "Create",
    body: [field("Name", name).row, field("Description", description).row,
      field("Provider", providerChoice).row, field("Data center", dc).row,
      withSubnet.row, subnetBox],
    onSubmit: async () => {
      const entity = { name: name.value.trim(), description: description.value, data_center: { id: dc.value },
        external_provider: { id: providerChoice.value } };
      if (withSubnet.input.checked) {
        const first = subnet.read();
        if (first) entity.openstack_subnet = first;
      }
      return api.add("networks", entity);
    },
  });
  if (created) {
    ctx.refresh();
    ctx.refreshTree();
  }
  return created;
}
