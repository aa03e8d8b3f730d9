"""STUB: to be implemented."""

from extnet.engine.api.resources.base import Collection


class VnicProfiles(Collection):
    type_name = "DataCenter"
