"""The operator console, served by the listener under /console: Connectors, Transactions,
Analytics and Catalog, rendered on the server from the published serving file (read-only) and
the ops store. The routes are in `routes.py`; docs/console.md shows the screens."""
