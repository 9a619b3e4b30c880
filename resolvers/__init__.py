"""The GraphQL schema (strawberry): thin resolvers that delegate to the gate and the services."""
