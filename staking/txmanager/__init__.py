"""Crash-safe transaction sending for the service signer (write-ahead intents, one nonce sequence)."""
