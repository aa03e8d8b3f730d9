// Data Centers, Clusters and Hosts: the inventory the networks and VMs live in.

import { list } from "../api.js";
import { formatTime } from "../dom.js";
import { flag, general, objectLink, status, yesNo } from "./common.js";

const version = (v) => (v ? `${v.major}.${v.minor}` : "");

export const dataCenters = {
  id: "datacenters", label: "Data Centers", singular: "Data center", searchable: true,
  load: (ctx, params) => list("datacenters", params),
  columns: () => [
    { key: "name", label: "Name", value: (dc) => dc.name },
    { key: "status", label: "Status", value: (dc) => status(dc.status) },
    { key: "version", label: "Compatibility version", value: (dc) => version(dc.version) },
    { key: "local", label: "Storage type", value: (dc) => (flag(dc.local) ? "Local" : "Shared") },
    { key: "description", label: "Description", value: (dc) => dc.description },
  ],
  inScope: (dc, scope, inv) => inv.inPlace(scope, dc.id),
  details: [{ label: "General", render: general((dc) => [
    ["Name", dc.name], ["Description", dc.description], ["Status", status(dc.status)],
    ["Compatibility version", version(dc.version)], ["Comment", dc.comment], ["ID", dc.id],
  ]) }],
};

export const clusters = {
  id: "clusters", label: "Clusters", singular: "Cluster", searchable: true,
  load: (ctx, params) => list("clusters", params),
  columns: (ctx) => [
    { key: "name", label: "Name", value: (c) => c.name },
    { key: "dc", label: "Data center", value: (c) => objectLink(ctx, "datacenters", c.data_center) },
    { key: "version", label: "Compatibility version", value: (c) => version(c.version) },
    { key: "cpu", label: "CPU type", value: (c) => c.cpu?.type },
    { key: "description", label: "Description", value: (c) => c.description },
  ],
  inScope: (c, scope, inv) => inv.inPlace(scope, c.data_center?.id, c.id),
  details: [{ label: "General", render: general((c, ctx) => [
    ["Name", c.name], ["Description", c.description], ["Data center", objectLink(ctx, "datacenters", c.data_center)],
    ["Compatibility version", version(c.version)], ["CPU type", c.cpu?.type], ["ID", c.id],
  ]) }],
};

export const hosts = {
  id: "hosts", label: "Hosts", singular: "Host", searchable: true,
  load: (ctx, params) => list("hosts", params),
  columns: (ctx) => [
    { key: "name", label: "Name", value: (host) => host.name },
    { key: "address", label: "Address", value: (host) => host.address },
    { key: "cluster", label: "Cluster", value: (host) => objectLink(ctx, "clusters", host.cluster) },
    { key: "status", label: "Status", value: (host) => status(host.status) },
    { key: "vms", label: "VMs", value: (host) => host.summary?.total ?? "", sortValue: (host) => Number(host.summary?.total || 0) },
  ],
  inScope: (host, scope, inv) => inv.inPlace(scope, inv.dataCenterOfCluster(host.cluster?.id), host.cluster?.id),
  details: [{ label: "General", render: general((host, ctx) => [
    ["Name", host.name], ["Address", `${host.address}${host.port ? `:${host.port}` : ""}`], ["Status", status(host.status)],
    ["Cluster", objectLink(ctx, "clusters", host.cluster)], ["Status detail", host.status_detail],
    ["External network provider binding", (host.external_network_provider_configurations?.external_network_provider_configuration || [])
      .map((conf) => ctx.inventory.name(conf.external_network_provider)).join(", ")],
    ["Hosted since", formatTime(host.created_time)], ["Protected", yesNo(host.protected)], ["ID", host.id],
  ]) }],
};
