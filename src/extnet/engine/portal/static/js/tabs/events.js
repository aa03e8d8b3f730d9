// Events: the engine's audit log, newest first; new ones arrive without a reload (the shell's event feed).

import * as api from "../api.js";
import { formatTime, h } from "../dom.js";
import { general, objectLink, status } from "./common.js";

const SHOWN = 2000;

function severity(value) {
  const words = { normal: "normal", warning: "warning", error: "error", alert: "alert" };
  return h("span", { class: `severity ${value}` }, words[value] || value);
}

export const events = {
  id: "events", label: "Events", singular: "Event", searchable: true,
  load: (ctx, params) => api.list("events", { max: SHOWN, ...params }),
  sort: { key: "time", ascending: false }, // newest first
  columns: (ctx) => [
    { key: "time", label: "Time", value: (e) => formatTime(e.time), sortValue: (e) => Number(e.index) },
    { key: "severity", label: "Severity", value: (e) => severity(e.severity) },
    { key: "description", label: "Message", value: (e) => e.description },
    { key: "code", label: "Code", value: (e) => e.code, sortValue: (e) => Number(e.code) },
    { key: "object", label: "Object", value: (e) => (e.vm ? objectLink(ctx, "vms", e.vm, "VM")
      : e.host ? objectLink(ctx, "hosts", e.host) : e.data_center ? objectLink(ctx, "datacenters", e.data_center) : "") },
  ],
  inScope: (e, scope, inv) => (scope.kind === "provider" ? e.custom_data === `provider=${scope.id}`
    : scope.kind === "system" || !e.data_center ? true : inv.inPlace(scope, e.data_center.id)),
  details: [{ label: "General", render: general((e, ctx) => [
    ["Time", formatTime(e.time)], ["Severity", status(e.severity)], ["Message", e.description], ["Code", e.code],
    ["Correlation ID", e.correlation_id], ["Data center", objectLink(ctx, "datacenters", e.data_center)],
    ["Host", objectLink(ctx, "hosts", e.host)], ["VM", objectLink(ctx, "vms", e.vm, e.vm?.id)],
    ["Provider", e.custom_data?.startsWith("provider=") ? objectLink(ctx, "providers", { id: e.custom_data.slice(9) }) : ""],
    ["Index", e.index],
  ]) }],
};
