"""STUB: to be implemented."""

from extnet.engine.api.resources.base import Collection


class Vms(Collection):
    type_name = "DataCenter"


class VmNics(Collection):
    type_name = "DataCenter"


class VmSnapshots(Collection):
    type_name = "DataCenter"
