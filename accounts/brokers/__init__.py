"""Broker credentials and sessions: adapters per broker, and the services that use them."""
