"""The shared kit of leadmesh: settings, logging, gRPC runner and channels, Mongo, AMQP, telemetry.

No domain logic lives here. Import from the submodules (`libs.settings`, `libs.errors`, ...).
"""
