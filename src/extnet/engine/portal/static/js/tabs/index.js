// The main tabs, in the order oVirt's administration portal shows them, and the topology.

import { clusters, dataCenters, hosts } from "./inventory_tabs.js";
import { events } from "./events.js";
import { networks } from "./networks.js";
import { profiles } from "./profiles.js";
import { providers } from "./providers.js";
import { topology } from "../topology.js";
import { vms } from "./vms.js";

export const MAIN_TABS = [dataCenters, clusters, hosts, networks, profiles, vms, providers, events, topology];
