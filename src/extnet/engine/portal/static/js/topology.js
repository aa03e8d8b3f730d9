// Topology (after Horizon's network topology): the networks of a data center or provider as vertical bars with
// their subnets, and the routers and VMs attached to them by their ports, coloured by state; every element links
// to its object. A table beneath says the same in words.

import * as api from "./api.js";
import { clear, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_VMS = 60;
const BATCH = 8; // VMs whose vNICs and ports are read at once
const ROW = 56;
const BOX_WIDTH = 170;
const BAR_GAP = 150;
const TOP = 92;

function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== null && value !== undefined) element.setAttribute(key, String(value));
  for (const child of children.flat()) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

function link(href, label, ...children) {
  return s("a", { href, "aria-label": label }, s("title", {}, label), ...children);
}

const portColour = (state) => (state === "ACTIVE" ? "good" : state === "DOWN" || state === "ERROR" ? "bad" : "unknown");

/** What the picture shows for ``scope``: networks (with subnets), routers and VMs with their vNICs' ports. */
async function gather(ctx, scope) {
  const inv = ctx.inventory;
  await inv.load();
  const clustersIn = (dcId) => inv.clusters.filter((c) => c.data_center?.id === dcId).map((c) => c.id);
  let networks = inv.networks;
  let clusterIds = null;
  if (scope.kind === "datacenter" || scope.kind === "cluster" || scope.kind === "network") {
    const dcId = scope.kind === "datacenter" ? scope.id : scope.kind === "cluster" ? inv.dataCenterOfCluster(scope.id) : inv.dataCenterOfNetwork(scope.id);
    networks = networks.filter((n) => n.data_center?.id === dcId);
    clusterIds = new Set(clustersIn(dcId));
  } else if (scope.kind === "provider") {
    networks = networks.filter((n) => n.external_provider?.id === scope.id);
  }
  const allVms = await api.list("vms");
  const networkOfProfile = new Map(inv.profiles.map((p) => [p.id, p.network?.id]));
  const networkIds = new Set(networks.map((n) => n.id));
  const candidates = allVms.filter((vm) => !clusterIds || clusterIds.has(vm.cluster?.id));
  // a VM's vNICs on these networks, with their ports; null when it has none and only attached VMs are drawn
  const attachmentsOf = async (vm) => {
    const nics = await api.list(`vms/${vm.id}/nics`);
    const attached = nics.filter((nic) => networkIds.has(networkOfProfile.get(nic.vnic_profile?.id)));
    if (!attached.length && scope.kind === "provider") return null;
    const ports = await Promise.all(attached.map((nic) => (inv.providerOfNetwork(networkOfProfile.get(nic.vnic_profile.id))
      ? api.list(`vms/${vm.id}/nics/${nic.id}/openstackports`).then((found) => found[0] || null).catch(() => null) : null)));
    return { vm, nics: attached.map((nic, i) => ({ nic, network: networkOfProfile.get(nic.vnic_profile.id), port: ports[i],
      host: inv.hostOfBinding(ports[i]?.binding_host_id)?.name || ports[i]?.binding_host_id })) };
  };
  const vms = [];
  const pool = candidates.slice(0, MAX_VMS * 2);
  for (let start = 0; start < pool.length && vms.length < MAX_VMS; start += BATCH) { // a few VMs at a time
    const found = await Promise.all(pool.slice(start, start + BATCH).map(attachmentsOf));
    vms.push(...found.filter(Boolean).slice(0, MAX_VMS - vms.length));
  }
  const subnets = new Map();
  await Promise.all(networks.filter((n) => n.openstack_network).map(async (n) => {
    subnets.set(n.id, await api.list(`${api.pathOf(n.openstack_network)}/subnets`).catch(() => []));
  }));
  const networkOfSubnet = new Map();
  for (const [networkId, list] of subnets) for (const subnet of list) networkOfSubnet.set(subnet.id, networkId);
  const providerIds = [...new Set(networks.map((n) => n.external_provider?.id).filter(Boolean))];
  const routers = [];
  const listed = await Promise.all(providerIds.map((providerId) =>
    api.list(`openstacknetworkproviders/${providerId}/routers`).catch(() => [])));
  providerIds.forEach((providerId, index) => {
    for (const router of listed[index]) {
      const attached = (router.interfaces?.interface || []).map((i) => networkOfSubnet.get(i.subnet_id)).filter(Boolean);
      if (attached.length) routers.push({ router, providerId, networks: [...new Set(attached)] });
    }
  });
  return { networks, subnets, vms, routers, more: candidates.length > MAX_VMS && vms.length >= MAX_VMS };
}

function draw(data) {
  const { networks, subnets, vms, routers } = data;
  const devices = [
    ...routers.map(({ router, providerId, networks: attached }) => ({ kind: "router", label: router.name || router.id,
      href: `#/providers/${providerId}`, state: router.status, links: attached.map((n) => ({ network: n, state: "ACTIVE" })) })),
    ...vms.map(({ vm, nics }) => ({ kind: "vm", label: vm.name, href: `#/vms/${vm.id}`, state: vm.status,
      links: nics.map(({ nic, network, port, host }) => ({ network, state: port?.status || null, label: `${vm.name} ${nic.name}`,
        detail: port ? `port ${port.id}: ${port.status}${host ? ` on host ${host}` : ""}` : "no port" })) })),
  ];
  const x0 = BOX_WIDTH + 80;
  const barX = new Map(networks.map((n, i) => [n.id, x0 + i * BAR_GAP]));
  const height = TOP + Math.max(1, devices.length) * ROW + 30;
  const width = x0 + Math.max(1, networks.length) * BAR_GAP + 40;
  const svg = s("svg", { class: "topology", width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": "Network topology" });
  const wires = s("g", {});
  const bars = s("g", {});
  const ports = s("g", {});
  const boxes = s("g", {});
  svg.append(wires, bars, ports, boxes); // wires pass behind the bars they do not attach to
  networks.forEach((network) => {
    const x = barX.get(network.id);
    const cidrs = (subnets.get(network.id) || []).map((subnet) => subnet.cidr);
    // the words beside the link, not in it: a link's name must contain its visible text, and these are two lines
    bars.append(link(`#/networks/${network.id}`, `network ${network.name}${cidrs.length ? ` (${cidrs.join(", ")})` : ""}`,
      s("rect", { x: x - 7, y: TOP - 20, width: 14, height: height - TOP, rx: 4, class: `bar ${network.external_provider ? "external" : "local"}` })),
    s("text", { x, y: 18, class: "bar-label", "text-anchor": "middle", "aria-hidden": "true" }, network.name),
    ...cidrs.slice(0, 3).map((cidr, i) => s("text", { x, y: 36 + i * 14, class: "cidr", "text-anchor": "middle", "aria-hidden": "true" }, cidr)));
  });
  devices.forEach((device, row) => {
    const y = TOP + row * ROW;
    for (const attachment of device.links) {
      const x = barX.get(attachment.network);
      if (x === undefined) continue;
      wires.append(s("line", { x1: 20 + BOX_WIDTH, y1: y + 18, x2: x, y2: y + 18, class: "wire" }));
      const port = s("circle", { cx: x, cy: y + 18, r: 7, class: `port ${portColour(attachment.state)}` });
      ports.append(attachment.detail ? link(device.href, `${attachment.label}: ${attachment.detail}`, port) : port);
    }
    boxes.append(link(device.href, `${device.kind === "vm" ? "VM" : "router"} ${device.label}: ${device.state || "unknown"}`,
      s("rect", { x: 20, y, width: BOX_WIDTH, height: 36, rx: 6, class: `device ${device.kind} ${String(device.state).toLowerCase()}` })),
    s("text", { x: 32, y: y + 16, class: "device-label", "aria-hidden": "true" }, device.label.length > 20 ? `${device.label.slice(0, 19)}…` : device.label),
    s("text", { x: 32, y: y + 30, class: "device-state", "aria-hidden": "true" }, `${device.kind === "vm" ? "VM" : "router"} · ${device.state || "unknown"}`));
  });
  return { svg, devices };
}

function legend() {
  return h("ul", { class: "legend", "aria-label": "Legend" },
    h("li", {}, h("span", { class: "swatch port good" }), "port ACTIVE"),
    h("li", {}, h("span", { class: "swatch port bad" }), "port DOWN or in error"),
    h("li", {}, h("span", { class: "swatch port unknown" }), "no port yet, or state unknown"),
    h("li", {}, h("span", { class: "swatch bar external" }), "external network"),
    h("li", {}, h("span", { class: "swatch bar local" }), "local network"));
}

function wordsFor(data, devices) {
  const name = new Map(data.networks.map((n) => [n.id, n.name]));
  const rows = devices.flatMap((device) => device.links.map((attachment) => h("tr", {},
    h("td", {}, h("a", { href: device.href }, device.label)), h("td", {}, device.kind === "vm" ? "VM" : "router"),
    h("td", {}, device.state || ""), h("td", {}, name.get(attachment.network) || ""),
    h("td", {}, attachment.detail || attachment.state || ""))));
  return h("table", { class: "grid topology-table" },
    h("caption", {}, "Connections"),
    h("thead", {}, h("tr", {}, ["Device", "Kind", "State", "Network", "Port"].map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "Nothing is attached to these networks"))));
}

export const topology = {
  id: "topology", label: "Topology", singular: "Topology", searchable: false,
  /** Draws into ``place`` instead of a table. */
  async view(place, ctx, scope) {
    clear(place, h("p", { class: "loading", role: "status" }, "Drawing the topology…"));
    const data = await gather(ctx, scope);
    const { svg, devices } = draw(data);
    const what = ctx.inventory.describe(scope) || "the whole system";
    clear(place, h("h2", {}, `Topology of ${what}`),
      data.networks.length ? h("div", { class: "topology-wrap" }, svg) : h("p", {}, "No networks here."),
      legend(),
      data.more ? h("p", { class: "help" }, `The first ${MAX_VMS} VMs are shown.`) : null,
      wordsFor(data, devices));
  },
};
