"""A Shopify Admin API simulator: GraphQL over the real schema, bulk operations, staged uploads, throttling.

Start it with ``erpsync simulator`` or build the app with ``shopify_simulator.server.create_app``.
"""
