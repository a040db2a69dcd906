"""Device labels from User-Agent headers, and the clipped form in which headers are stored."""

from __future__ import annotations

import pytest

from rolegate.authn.devices import MAX_USER_AGENT, UNKNOWN_DEVICE, clip_user_agent, device_label

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (CHROME_WINDOWS, "Chrome 120 on Windows 10"),
        (SAFARI_IPHONE, "Mobile Safari 17 on iOS 17 (iPhone)"),
        (FIREFOX_LINUX, "Firefox 121 on Linux"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
            "Safari 17 on Mac OS X 10 (Mac)",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.6099.43 Mobile Safari/537.36",
            "Chrome Mobile 120 on Android 14 (Pixel 8)",
        ),
        ("curl/8.4.0", "curl 8"),
    ],
    ids=[
        "chrome-windows",
        "safari-iphone",
        "firefox-linux",
        "safari-mac",
        "chrome-android",
        "curl",
    ],
)
def test_known_agents_get_browser_version_system_and_device(user_agent: str, label: str) -> None:
    assert device_label(user_agent) == label


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        ("python-httpx/0.27.0", "python-httpx/0.27.0"),
        ("AcmeSync/2.3 (build 7; internal)", "AcmeSync/2.3"),
        ("x" * 100, "x" * 60),  # a product token is cut at 60 characters
    ],
)
def test_an_unknown_agent_is_named_by_its_first_product_token(user_agent: str, label: str) -> None:
    assert device_label(user_agent) == label


def test_a_known_system_with_an_unknown_browser_still_names_the_system() -> None:
    assert device_label("AcmeAgent (Windows NT 10.0)") == "Unknown browser on Windows 10"


@pytest.mark.parametrize("user_agent", [None, "", "   ", "\x00\x01\x7f", "\r\n\t"])
def test_no_agent_is_an_unknown_device(user_agent: str | None) -> None:
    assert device_label(user_agent) == UNKNOWN_DEVICE == "Unknown device"
    assert clip_user_agent(user_agent) == ""


def test_control_characters_are_stripped_before_parsing_and_storing() -> None:
    hostile = "curl/8.4.0\r\nX-Injected: 1\x00\x1b[31m\u200b"
    stored = clip_user_agent(hostile)
    assert stored.isprintable()
    assert stored == "curl/8.4.0  X-Injected: 1  [31m"
    assert device_label(hostile) == "curl 8"
    assert device_label("Mozilla/5.0 (Windows NT 10.0)\x00\x1b Chrome/120.0.0.0") == (
        "Chrome 120 on Windows 10"
    )


def test_a_very_long_header_is_clipped_to_max_user_agent() -> None:
    long_header = CHROME_WINDOWS + " Padding/1.0" * 1000
    stored = clip_user_agent(long_header)
    assert len(stored) == MAX_USER_AGENT
    assert stored == long_header[:MAX_USER_AGENT]
    assert device_label(long_header) == "Chrome 120 on Windows 10"
    assert len(clip_user_agent("é" * 10 * MAX_USER_AGENT)) == MAX_USER_AGENT


def test_a_header_within_the_limit_is_stored_as_sent() -> None:
    assert clip_user_agent(SAFARI_IPHONE) == SAFARI_IPHONE
    at_limit = "a" * MAX_USER_AGENT
    assert clip_user_agent(at_limit) == at_limit
