"""The engine's clients of its hosts: the host agent's JSON-RPC client, each host's provider accounts and its
readiness (pairing and the host monitor are operations: ``engine/operations``)."""
