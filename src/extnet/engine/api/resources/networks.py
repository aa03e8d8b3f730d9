"""STUB: to be implemented."""

from extnet.engine.api.resources.base import Collection


class Networks(Collection):
    type_name = "DataCenter"


class DataCenterNetworks(Collection):
    type_name = "DataCenter"


class NetworkVnicProfiles(Collection):
    type_name = "DataCenter"
