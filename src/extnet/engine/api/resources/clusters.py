"""STUB: to be implemented."""

from extnet.engine.api.resources.base import Collection


class Clusters(Collection):
    type_name = "DataCenter"


class DataCenterClusters(Collection):
    type_name = "DataCenter"


class ClusterNetworks(Collection):
    type_name = "DataCenter"
