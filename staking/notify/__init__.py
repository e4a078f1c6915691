"""Outbound notifications (webhooks) for decisions, isolations, investigations and failures."""
