"""Verdict intake: parse, check and store signed verdicts (SPEC section 3)."""
