"""The web pages of SPEC section 10 (`/`, `/providers/{address}`, `/operator`): server-rendered
from the read model, with one small script for live updates; see `staking.web.pages`."""
