"""The provider's store: SQL schema, migrations, and the typed backend boundary the service layer talks to."""
