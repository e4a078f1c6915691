"""Chain clients: artifacts, typed contract wrappers, connections and transaction sending."""
