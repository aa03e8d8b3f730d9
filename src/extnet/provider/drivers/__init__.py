"""Mechanism drivers, as Neutron's ML2 has them: the SQL store is the source of truth for the API; what binds a
port, where port status and agents come from, and what follows each committed change are a driver's."""
