"""gRPC transport (grpc.aio): one servicer module per proto service, thin adapters over `Service`."""
