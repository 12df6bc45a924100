"""Host cloaks: stable with the secret, unguessable without it, one part per network size."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import stat
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from chinwag.server.cloak import KEY_FILENAME, RECENT_ADDRESSES, Cloaker, load_secret
from chinwag.server.config import PrivacyConfig

SECRET = b"k" * 32


def test_same_address_same_cloak_and_ranges_share_parts() -> None:
    """One address always gets one cloak; a neighbour in the /24 shares all but the first part."""
    cloaker = Cloaker(PrivacyConfig(), SECRET)
    one = cloaker.host_for("10.1.2.3")
    assert one == cloaker.host_for("10.1.2.3")
    assert one.endswith(".ip.chinwag")
    near = cloaker.host_for("10.1.2.99")
    assert one.split(".")[1:] == near.split(".")[1:] and one != near
    far = cloaker.host_for("10.9.2.3")
    assert one.split(".")[1:3] != far.split(".")[1:3]
    assert cloaker.host_for("::ffff:10.1.2.3") == one


def test_other_secret_other_cloak_and_cloaking_off() -> None:
    """A different secret gives a different cloak; cloak_hosts = false shows the address."""
    assert Cloaker(PrivacyConfig(), SECRET).host_for("10.1.2.3") != Cloaker(
        PrivacyConfig(), b"x" * 32
    ).host_for("10.1.2.3")
    assert Cloaker(PrivacyConfig(cloak_hosts=False), SECRET).host_for("10.1.2.3") == "10.1.2.3"


def test_account_cloaks_are_host_safe() -> None:
    """Account cloaks only when asked, with characters a host name may hold."""
    assert Cloaker(PrivacyConfig(), SECRET).host_for_account("amy") is None
    cloaker = Cloaker(PrivacyConfig(account_cloaks=True, cloak_suffix="ex.org"), SECRET)
    assert cloaker.host_for_account("amy") == "amy.user.ex.org"
    assert cloaker.host_for_account("[x]|y") == "x--y.user.ex.org"
    assert cloaker.host_for_account("{}") == "user.user.ex.org"


def test_secret_is_kept_private_in_the_data_directory(tmp_path: Path) -> None:
    """The secret is made once (mode 0600) and read back the same after a restart."""
    secret = load_secret(tmp_path)
    assert load_secret(tmp_path) == secret and len(secret) == 32
    assert stat.S_IMODE((tmp_path / KEY_FILENAME).stat().st_mode) == 0o600
    assert load_secret(None) != load_secret(None)


@given(st.ip_addresses())
def test_any_address_gives_a_host_name(address: object) -> None:
    """Every IPv4 or IPv6 address cloaks to dot-separated hex parts and the suffix."""
    host = Cloaker(PrivacyConfig(), SECRET).host_for(str(address))
    *parts, ip, suffix = host.split(".")
    assert (ip, suffix) == ("ip", "chinwag") and len(parts) == 3
    assert all(len(p) == 8 and all(c in "0123456789abcdef" for c in p) for p in parts)


def _cloak_by_network_text(secret: bytes, ip: str, suffix: str = "chinwag") -> str:
    """The cloak as first defined: each network's text written by ``ipaddress.ip_network``."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefixes = (32, 24, 16) if address.version == 4 else (128, 64, 48)
    parts = [
        hmac.new(
            secret,
            str(ipaddress.ip_network(f"{address}/{bits}", strict=False)).encode(),
            hashlib.sha256,
        ).hexdigest()[:8]
        for bits in prefixes
    ]
    return ".".join([*parts, "ip", suffix])


@given(
    st.one_of(
        st.ip_addresses().map(str),
        st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
        st.sampled_from(["fe80::1%eth0", "::1", "0.0.0.0", "255.255.255.255"]),
    )
)
def test_cloaks_stay_those_of_the_network_texts(ip: str) -> None:
    """The masked-integer construction gives every address the cloak it always had (bans and
    ignore lists on cloaks survive the upgrade), remembered or not."""
    cloaker = Cloaker(PrivacyConfig(), SECRET)
    assert cloaker.host_for(ip) == _cloak_by_network_text(SECRET, ip)
    assert cloaker.host_for(ip) == _cloak_by_network_text(SECRET, ip)


def test_remembered_cloaks_follow_a_new_suffix_and_stay_bounded() -> None:
    """A reload that changes cloak_suffix changes the remembered cloaks too; past
    RECENT_ADDRESSES addresses the memory starts again rather than grow."""
    settings = PrivacyConfig()
    cloaker = Cloaker(settings, SECRET)
    assert cloaker.host_for("10.1.2.3").endswith(".ip.chinwag")
    settings.cloak_suffix = "example.org"
    assert cloaker.host_for("10.1.2.3") == _cloak_by_network_text(SECRET, "10.1.2.3", "example.org")
    for n in range(RECENT_ADDRESSES + 10):
        cloaker.host_for(str(ipaddress.IPv4Address(n)))
    assert len(cloaker._recent) <= RECENT_ADDRESSES
