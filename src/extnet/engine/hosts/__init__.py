"""The engine's side of its hosts: the host agent client, pairing, and the host monitor."""
