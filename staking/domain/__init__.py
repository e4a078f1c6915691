"""The bottom floor: the service's vocabulary and the rules every stage shares.

Pure and self-contained: nothing here imports another part of the project (import-linter checks
it), so intake, policy, the executor, the indexer, the read model and the API all speak the same
words from one definition each.
"""
