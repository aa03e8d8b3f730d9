// What the tree and the tables look names up in: data centers, clusters, networks, hosts and providers, by id.

import { list } from "./api.js";

const MAX_AGE_MS = 20000; // tabs reuse what was read this recently; a change made here reads it again at once

export class Inventory {
  constructor() {
    this.dataCenters = [];
    this.clusters = [];
    this.networks = [];
    this.hosts = [];
    this.providers = [];
    this.profiles = [];
    this.byId = new Map();
    this.loading = null;
    this.loadedAt = 0;
  }

  /** What the engine says now is needed at the next load (after a change). */
  invalidate() {
    this.loadedAt = 0;
  }

  /** Load everything unless read lately; calls made while a load runs share it. */
  load() {
    if (Date.now() - this.loadedAt < MAX_AGE_MS) return Promise.resolve();
    if (!this.loading) {
      this.loading = this.fetch().then(() => {
        this.loadedAt = Date.now();
      }).finally(() => {
        this.loading = null;
      });
    }
    return this.loading;
  }

  async fetch() {
    const [dataCenters, clusters, networks, hosts, providers, profiles] = await Promise.all([
      list("datacenters"), list("clusters"), list("networks"), list("hosts"), list("openstacknetworkproviders"),
      list("vnicprofiles"),
    ]);
    Object.assign(this, { dataCenters, clusters, networks, hosts, providers, profiles });
    this.byId = new Map();
    for (const entity of [...dataCenters, ...clusters, ...networks, ...hosts, ...providers, ...profiles]) {
      this.byId.set(entity.id, entity);
    }
  }

  name(ref) {
    if (!ref) return "";
    return this.byId.get(ref.id)?.name || ref.id;
  }

  /** The host a port is bound to: Neutron's binding:host_id is one its agent reports (host_agent), or its name. */
  hostOfBinding(binding) {
    if (!binding) return null;
    const reported = (host) => [host.id, host.name, host.host_agent?.unique_id, host.host_agent?.hostname,
      ...(host.host_agent?.binding_host_ids?.property || []).map((p) => p.value)];
    return this.hosts.find((host) => reported(host).includes(binding)) || null;
  }

  dataCenterOfCluster(clusterId) {
    return this.clusters.find((c) => c.id === clusterId)?.data_center?.id || null;
  }

  dataCenterOfNetwork(networkId) {
    return this.networks.find((n) => n.id === networkId)?.data_center?.id || null;
  }

  providerOfNetwork(networkId) {
    return this.networks.find((n) => n.id === networkId)?.external_provider?.id || null;
  }

  /** The words that say what a scope of the tree limits the tabs to ("data center 'Default'"), or "". */
  describe(scope) {
    const named = (kind) => `${kind} '${this.byId.get(scope.id)?.name || scope.id}'`;
    switch (scope.kind) {
      case "datacenter": return named("data center");
      case "cluster": return named("cluster");
      case "network": return named("network");
      case "provider": return named("provider");
      default: return "";
    }
  }

  /** Whether an entity in data center ``dcId`` (and cluster ``clusterId``) lies in ``scope``. */
  inPlace(scope, dcId, clusterId = null) {
    switch (scope.kind) {
      case "datacenter": return dcId === scope.id;
      case "cluster": return clusterId === scope.id || (clusterId === null && dcId === this.dataCenterOfCluster(scope.id));
      case "network": return dcId === this.dataCenterOfNetwork(scope.id);
      case "provider": return false;
      default: return true;
    }
  }
}
