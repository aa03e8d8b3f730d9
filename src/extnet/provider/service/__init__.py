"""The service layer: Neutron's semantics (validation, defaults, IPAM, binding, policy) over a ``Backend``."""
