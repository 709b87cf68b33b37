"""The leadmesh gRPC services, one package each."""
