"""The read model: where providers stand, from the indexer's SQL projection (`providers`,
`slashes`, `events`, `params`, `meta`) and the service's own records (`verdicts`, `actions`,
`tx_intents`); nothing here asks the chain.

- `parts` — what one provider's document is built from (`Parts`), and the shared settings.
- `queries` — `snapshot(engine)` and the per-lookup statements (SQLite).
- `one_statement` — the PostgreSQL form: the whole document's parts in one statement.
- `documents` — the pure builders (`standing_from_parts`, `slash_item`, `provider_summary`, ...).
- `standing` — `provider_standing` / `read_provider_standing`: read the parts, build the document.
- `listings` — providers, slashes and a provider's events, as keyset pages.
- `status_filter` — a provider status as SQL, equal to `staking.domain.status.provider_status`.
"""

from staking.readmodel.documents import as_of, provider_summary, slash_item, standing_from_parts
from staking.readmodel.listings import (
    AMOUNT_ARGS,
    MAX_PAGE,
    SLASH_STATES,
    list_providers,
    list_slashes,
    provider_events,
)
from staking.readmodel.one_statement import (
    ONE_STATEMENT,
    ONE_STATEMENT_PSYCOPG,
    one_statement_values,
    parts_from_one_statement,
)
from staking.readmodel.parts import META_KEYS, Parts
from staking.readmodel.queries import snapshot
from staking.readmodel.standing import provider_standing, read_provider_standing

__all__ = [
    "AMOUNT_ARGS",
    "MAX_PAGE",
    "META_KEYS",
    "ONE_STATEMENT",
    "ONE_STATEMENT_PSYCOPG",
    "SLASH_STATES",
    "Parts",
    "as_of",
    "list_providers",
    "list_slashes",
    "one_statement_values",
    "parts_from_one_statement",
    "provider_events",
    "provider_standing",
    "provider_summary",
    "read_provider_standing",
    "slash_item",
    "snapshot",
    "standing_from_parts",
]
