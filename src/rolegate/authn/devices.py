"""Readable device labels ("Firefox 120 on Windows 10") from User-Agent headers."""

from __future__ import annotations

from typing import Final

from ua_parser import parse

#: Longest User-Agent stored; longer headers are cut (they are descriptive, never credentials).
MAX_USER_AGENT: Final = 512
UNKNOWN_DEVICE: Final = "Unknown device"


def clip_user_agent(user_agent: str | None) -> str:
    """The header as stored: printable characters only, at most :data:`MAX_USER_AGENT` long."""
    if not user_agent:
        return ""
    return "".join(ch if ch.isprintable() else " " for ch in user_agent[:MAX_USER_AGENT]).strip()


def device_label(user_agent: str | None) -> str:
    """ "Chrome 120 on Windows 10", "Mobile Safari 17 on iOS 17 (iPhone)", "curl 8"...

    The uap-core regexes (ua-parser) know browsers, systems and devices; an agent they do not
    know is named by its first product token, such as ``python-httpx/0.27``.
    """
    header = clip_user_agent(user_agent)
    if not header:
        return UNKNOWN_DEVICE
    result = parse(header)
    agent, system, device = result.user_agent, result.os, result.device
    if agent is None and system is None:
        return header.split(" ", 1)[0][:60]
    label = _versioned(agent.family, agent.major) if agent is not None else "Unknown browser"
    if system is not None:
        label += f" on {_versioned(system.family, system.major)}"
    if device is not None and device.family not in ("Other", "Spider") and device.family:
        label += f" ({device.family})"
    return label


def _versioned(family: str, major: str | None) -> str:
    return f"{family} {major}" if major else family
