"""Work the engine does besides answering requests: the synchronization of providers (on demand and periodic)."""
