"""Shared runtime for Salesplane services. Nothing here connects to anything at import time."""
