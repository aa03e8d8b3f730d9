"""The host agent (``extnet host``): extnet's VDSM. The engine drives it over JSON-RPC; it plugs vNICs through a
runtime and keeps its agent alive on the engine's providers."""
