"""HTTP transport (starlette): thin adapters from JSON requests to the `Service` and back."""
