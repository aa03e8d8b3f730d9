"""The built-in network provider: OpenStack Networking API v2.0 and Identity API v3/v2.0 over a SQL store."""
