"""The engine's use cases: what a request or a background worker does across the inventory, providers and hosts (VM
start and stop, vNIC plugging and rewiring, migration, removal, snapshots, external networks and their subnets,
provider actions and synchronization, host pairing and monitoring, the port outbox and the reconciler)."""
