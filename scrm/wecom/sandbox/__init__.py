"""The WeCom sandbox: a faithful, stateful fake of the WeCom server API (DESIGN.md §5, docs/sandbox.md)."""

from .server import (
    DEFAULT_AES_KEY,
    DEFAULT_AGENT_ID,
    DEFAULT_CORP_ID,
    DEFAULT_SECRET,
    DEFAULT_TOKEN,
    Sandbox,
)

__all__ = [
    "DEFAULT_AES_KEY",
    "DEFAULT_AGENT_ID",
    "DEFAULT_CORP_ID",
    "DEFAULT_SECRET",
    "DEFAULT_TOKEN",
    "Sandbox",
]
