"""The host agent's JSON-RPC 2.0 API over HTTP."""
