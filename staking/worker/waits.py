"""How an action waits on a full cap (SPEC section 8): it stays pending, retried with backoff (a
full jail cap closes a gate for every jail alike), says so in its note, and is announced once
(webhook "cap")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from staking.txmanager.client import SimulationReverted
from staking.worker import calls
from staking.worker.bounds import Backoff
from staking.worker.settling import Notify
from staking.worker.slash_plan import WAITING_FOR_JAIL_CAP, WAITING_FOR_SLASH_CAP


class CapWaits:
    backoff: Backoff
    clock: Callable[[], float]
    notify: Notify

    def _set_action(self, action_id: int, **values: Any) -> None:
        raise NotImplementedError

    def _waits_for_cap(self, row: Any, exc: SimulationReverted) -> None:
        """A full cap: the action stays pending, says so, and is announced once (webhook "cap")."""
        kind, aid = row["kind"], row["id"]
        if kind == "jail":
            until = self.backoff.close("jail")
            self.backoff.wait(aid, until - self.clock())
            waiting = WAITING_FOR_JAIL_CAP
        else:
            self.backoff.wait(aid)
            waiting = WAITING_FOR_SLASH_CAP
        note = calls.cap_note(kind, exc, waiting)
        self._announce_wait(row, note, waiting, exc.error, calls.cap_figures(exc))

    def _jail_waits_for_gate(self, row: Any, until: float) -> None:
        """The jail cap was full moments ago: this jail waits with the others, unsimulated."""
        self.backoff.wait(row["id"], until - self.clock())
        note = f"{WAITING_FOR_JAIL_CAP}: the window's jails are used up (JailCapExceeded)"
        self._announce_wait(row, note, WAITING_FOR_JAIL_CAP, "JailCapExceeded", None)

    def _announce_wait(
        self, row: Any, note: str, waiting: str, error: str, figures: tuple[int, int] | None
    ) -> None:
        already = (row["note"] or "").startswith(waiting)
        if note != row["note"] and not (already and figures is None):
            self._set_action(row["id"], note=note)
        if already:
            return
        payload = {"verdict_id": row["verdict_id"], "provider": row["provider"], "action": row["kind"]}
        used_cap = {"used": str(figures[0]), "cap": str(figures[1])} if figures else {}
        self.notify("cap", {**payload, "error": error, **used_cap, "note": note})
