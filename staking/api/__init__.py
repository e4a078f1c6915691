"""The HTTP API (SPEC section 4): FastAPI app, RFC 9457 problem details."""
