"""The worker: executes decided actions through the transaction manager, and the scheduled jobs."""
