"""STUB: to be implemented."""

from extnet.engine.api.resources.base import Collection


class Hosts(Collection):
    type_name = "DataCenter"
