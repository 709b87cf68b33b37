"""The ``leadmesh`` command: ``up`` runs the whole stack for development; admin commands manage it."""
