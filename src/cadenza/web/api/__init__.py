"""The REST API, one module per area; `web.app` assembles the routers."""
