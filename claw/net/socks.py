"""SOCKS client handshakes over an open ``Connection`` to the proxy: SOCKS5 (RFC 1928) with
username/password authentication (RFC 1929), and SOCKS4 / SOCKS4a.

``socks5h`` and ``socks4a`` send the host name to the proxy, which resolves it (what you want when
only the proxy can resolve internal names); ``socks5`` and ``socks4`` resolve it here first, as curl
does. After ``socks_handshake`` returns, the connection is a plain byte stream to the destination.

It deliberately does not implement BIND or UDP ASSOCIATE, GSSAPI authentication, or any fallback to
a direct connection: a proxy that refuses is a ``NetworkError`` (``proxy`` or ``proxy_auth``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
from typing import TYPE_CHECKING, Optional, Union

from claw.errors import NetworkError

if TYPE_CHECKING:  # pragma: no cover
    from claw.net.connection import Connection
    from claw.net.proxy import ProxyConfig

SOCKS5_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}
SOCKS4_REPLIES = {
    0x5B: "request rejected or failed",
    0x5C: "request rejected: the proxy cannot reach the client's identd",
    0x5D: "request rejected: identd user id mismatch",
}


async def socks_handshake(conn: Connection, proxy: ProxyConfig, host: str, port: int) -> None:
    """Ask the SOCKS proxy behind ``conn`` to connect to ``host:port``."""
    if proxy.scheme in ("socks5", "socks5h"):
        await _socks5(conn, proxy, host, port, remote_dns=proxy.scheme == "socks5h")
    elif proxy.scheme in ("socks4", "socks4a"):
        await _socks4(conn, proxy, host, port, remote_dns=proxy.scheme == "socks4a")
    else:  # pragma: no cover - connect.py only calls this for socks schemes
        raise NetworkError(f"{proxy.scheme!r} is not a SOCKS proxy scheme", kind="proxy")


def _where(proxy: ProxyConfig) -> str:
    return f"SOCKS proxy {proxy.redacted()} (from {proxy.source})"


async def _socks5(conn: Connection, proxy: ProxyConfig, host: str, port: int, *,
                  remote_dns: bool) -> None:
    where = _where(proxy)
    methods = b"\x00\x02" if proxy.has_credentials else b"\x00"
    await conn.write(b"\x05" + bytes([len(methods)]) + methods)
    version, method = await conn.read_exactly(2)
    if version != 5:
        raise NetworkError(f"{where} did not answer as a SOCKS5 server (version byte {version})",
                           kind="protocol", hint="check the proxy URL's scheme and port")
    if method == 0x02:
        if not proxy.has_credentials:  # pragma: no cover - we did not offer it
            raise NetworkError(f"{where} chose an authentication we did not offer", kind="protocol")
        user = (proxy.username or "").encode("utf-8")
        password = (proxy.password or "").encode("utf-8")
        if len(user) > 255 or len(password) > 255:
            raise NetworkError(f"the user name or password for {where} is longer than 255 bytes",
                               kind="proxy_auth")
        await conn.write(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
        _version, status = await conn.read_exactly(2)
        if status != 0:
            raise NetworkError(
                f"{where} rejected the user name and password",
                kind="proxy_auth",
                hint="check the credentials in the proxy URL (socks5://user:pass@host:port; "
                     "percent-encode special characters)",
            )
    elif method == 0xFF:
        if proxy.has_credentials:
            message = f"{where} accepts none of the offered authentication methods"
        else:
            message = f"{where} requires authentication"
        raise NetworkError(
            message, kind="proxy_auth",
            hint="put the credentials in the proxy URL, as socks5://user:pass@host:port "
                 "(percent-encode special characters)",
        )
    elif method != 0x00:
        raise NetworkError(f"{where} chose an authentication method we did not offer ({method})",
                           kind="protocol")

    address = _ip_literal(host)
    if address is None and not remote_dns:
        address = await _resolve(host, port, where, ipv4_only=False)
    if address is None:
        name = host.encode("idna")
        if len(name) > 255:
            raise NetworkError(f"host name {host!r} is too long for SOCKS5", kind="connect")
        dest = b"\x03" + bytes([len(name)]) + name
    elif address.version == 4:
        dest = b"\x01" + address.packed
    else:
        dest = b"\x04" + address.packed
    await conn.write(b"\x05\x01\x00" + dest + struct.pack("!H", port))
    version, reply, _reserved, atyp = await conn.read_exactly(4)
    if version != 5:
        raise NetworkError(f"{where} sent an invalid SOCKS5 reply", kind="protocol")
    if reply != 0:
        reason = SOCKS5_REPLIES.get(reply, f"error {reply}")
        raise NetworkError(
            f"{where} could not connect to {_hostport(host, port)}: {reason}",
            kind="proxy", retryable=reply in (1, 3, 4, 5, 6),
        )
    if atyp == 1:
        await conn.read_exactly(4 + 2)
    elif atyp == 4:
        await conn.read_exactly(16 + 2)
    elif atyp == 3:
        (length,) = await conn.read_exactly(1)
        await conn.read_exactly(length + 2)
    else:
        raise NetworkError(f"{where} sent an invalid SOCKS5 address type {atyp}", kind="protocol")


async def _socks4(conn: Connection, proxy: ProxyConfig, host: str, port: int, *,
                  remote_dns: bool) -> None:
    where = _where(proxy)
    address = _ip_literal(host)
    if address is not None and address.version != 4:
        raise NetworkError(f"{where}: SOCKS4 cannot reach the IPv6 address {host}",
                           kind="proxy", hint="use a socks5:// or socks5h:// proxy URL")
    user = (proxy.username or "").encode("utf-8")
    suffix = b""
    if address is None:
        if remote_dns:
            ip_bytes = b"\x00\x00\x00\x01"
            suffix = host.encode("idna") + b"\x00"
        else:
            resolved = await _resolve(host, port, where, ipv4_only=True)
            assert resolved is not None
            ip_bytes = resolved.packed
    else:
        ip_bytes = address.packed
    await conn.write(b"\x04\x01" + struct.pack("!H", port) + ip_bytes + user + b"\x00" + suffix)
    reply = await conn.read_exactly(8)
    if reply[0] != 0:
        raise NetworkError(f"{where} did not answer as a SOCKS4 server", kind="protocol",
                           hint="check the proxy URL's scheme and port")
    if reply[1] != 0x5A:
        reason = SOCKS4_REPLIES.get(reply[1], f"error {reply[1]:#x}")
        raise NetworkError(f"{where} could not connect to {_hostport(host, port)}: {reason}",
                           kind="proxy")


def _ip_literal(host: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


async def _resolve(host: str, port: int, where: str, *,
                   ipv4_only: bool) -> Union[ipaddress.IPv4Address, ipaddress.IPv6Address]:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET if ipv4_only else socket.AF_UNSPEC
    try:
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetworkError(
            f"cannot resolve host {host!r} (to send its address to {where}): "
            f"{exc.strerror or exc}",
            kind="connect", retryable=exc.errno == socket.EAI_AGAIN,
            hint="use a socks5h:// proxy URL to let the proxy resolve names",
        ) from None
    return ipaddress.ip_address(infos[0][4][0])


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
