"""A policy's identity and its files (SPEC section 11): the sha256 of the canonical policy, every
error of a policy file at once, and the parameter-by-parameter difference of two policies. Pure.

The canonical form is the parsed, validated policy with every default filled in, as JSON with
sorted keys and no spaces: two files that decide alike (comments, key order, a default written
out or left implicit) have the same hash; any change of a parameter changes it."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from staking.policy.engine import Policy


def canonical(policy: Policy) -> bytes:
    return json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


def policy_hash(policy: Policy) -> str:
    """`sha256:` and 64 hex digits of the canonical policy."""
    return "sha256:" + hashlib.sha256(canonical(policy)).hexdigest()


def check_policy_file(path: Path) -> tuple[Policy | None, list[str]]:
    """(the policy, []) or (None, every error, one line each: `where: what`)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return None, [f"{path}: no such file"]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}: cannot be read ({exc})"]
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{path}: not valid TOML: {exc}"]
    try:
        return Policy.model_validate(data), []
    except ValidationError as exc:
        return None, [_line(e) for e in exc.errors()]


def _line(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(the file)"
    given = "" if error["type"] == "missing" else f" (given: {error['input']!r})"[:120]
    return f"{where}: {error['msg']}{given}"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"levels.penalty.slash_bps": 500, ...}`: every parameter by its dotted path."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def policy_diff(a: Policy, b: Policy) -> list[tuple[str, Any, Any]]:
    """`(parameter, in a, in b)` for every parameter that differs, by dotted path (None: absent)."""
    fa, fb = flatten(a.model_dump(mode="json")), flatten(b.model_dump(mode="json"))
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
