"""Which `Host` headers the HTTP server answers: the defence against DNS rebinding.

A page on another site can point a name it controls at 127.0.0.1 and then read a keyless server there as
its own origin; the browser still sends the attacker's name as `Host`. Bound to a loopback address, the
server therefore answers only loopback names unless `--allowed-hosts` lists more; bound elsewhere
(a container, behind a proxy) it answers any name unless a list is given.

Loopback names (localhost, *.localhost, 127.0.0.0/8, ::1; any port) are answered whatever the list: a
rebinding page cannot make the browser send them (it sends the attacker's own name), and local tools and
the container's HEALTHCHECK reach the server as 127.0.0.1.
"""

from __future__ import annotations

import ipaddress

from server.settings import ServerSettings, option


def _name(host_header: str) -> str:
    """`Host` without its port: `[::1]:8080` → `::1`, `localhost:8080` → `localhost`."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostCheck:
    def __init__(self, settings: ServerSettings) -> None:
        listed = {_name(h) for h in settings.allowed_hosts}
        self.any = "*" in listed or (not listed and not _loopback(_name(settings.host)))
        self.listed = frozenset(listed)

    def allows(self, host_header: str | None) -> bool:
        if self.any or host_header is None:  # HTTP/1.0 clients may send none; browsers always do
            return True
        name = _name(host_header)
        return name in self.listed or _loopback(name)

    def refusal(self, host_header: str) -> str:
        accepted = "loopback names (localhost, 127.0.0.1, ::1)"
        if self.listed:
            accepted += " and " + ", ".join(sorted(self.listed))
        return (
            f"Host {host_header!r} is not a name this server answers to (it answers {accepted}); "
            f"add it with {option('allowed_hosts')}, or '*' for any"
        )
