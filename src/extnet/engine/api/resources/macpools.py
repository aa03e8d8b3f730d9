"""STUB: to be implemented."""

from extnet.engine.api.resources.base import Collection


class MacPools(Collection):
    type_name = "DataCenter"
