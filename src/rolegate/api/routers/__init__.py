"""The HTTP API's routers: each endpoint parses, makes one service call and shapes the answer."""
