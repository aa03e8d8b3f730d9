"""STUB: to be implemented."""

from extnet.engine.api.resources.base import Collection


class Templates(Collection):
    type_name = "DataCenter"
