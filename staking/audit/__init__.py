"""The evidence trail (SPEC section 11): `export` writes, from the service's records, JSON lines
from each signed verdict to its decision, actions, transactions, indexed events and webhook
deliveries, hash-chained (`lines`); `verify` checks the chain, the signatures and, against a
node, every transaction and event the trail claims."""
