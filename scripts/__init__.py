"""Operator playbooks (run as files: `.venv/bin/python scripts/<name>.py --help`)."""
