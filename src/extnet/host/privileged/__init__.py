"""Every privileged operation of the host agent, in a few small functions (as os-vif's privsep entry points):
netlink through pyroute2 (``netlink``), the Open vSwitch database through ovsdbapp (``ovsdb``), and the two
commands no library covers (``commands``). Nothing above this package touches the kernel or OVS directly."""
