"""Secrets in a URL: a table's user and password, a presigned URL's signature, a token; and a
tracking server reached in clear text.

`dvc import-url` writes the URL into the raw table's .dvc file, which is committed to git, and the
schema keeps it as `source:`: a URL carrying a secret is refused, and every message shows it with
the secret replaced by `***` (see redacted). Standard library only: the template's pre-generation
hook loads this file to check `dataset` before the project exists.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote_plus, urlsplit

# What comes before a URL's user and password: a scheme of two or more letters (one is a Windows
# drive), a colon and slashes. Leading spaces and control characters, and tabs and line breaks
# anywhere, are what urllib's parser skips, so they are taken as it takes them.
URL_START = re.compile(r"[\x00-\x20]*[A-Za-z][A-Za-z0-9+.\-\t\r\n]+:(?:[\t\r\n]*/)*")
# Query parameters that carry a signature or a secret (presigned S3, GCS and Azure URLs, API tokens);
# compared in lowercase, so that no spelling of one slips through.
SECRET_PARAMETERS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "signature",
        "sig",
        "token",
        "access_token",
        "api_key",
        "apikey",
        "key",
        "password",
        "secret",
    }
)


def is_s3(url: str) -> bool:
    """Whether `url` is an s3:// URL (in any case, spaces and control characters before it ignored)."""
    return re.sub(r"[\x00-\x20]", "", url).lower().startswith("s3:")


def userinfo_span(url: str) -> tuple[int, int] | None:
    """Where `url`'s user[:password] is (start, end: the '@' before the host), or None when it has
    none. A password with an unescaped '/', '?' or '#' (an AWS secret key often has a '/') cuts the
    host short, leaving a port that is not a number: then the user[:password] runs to the last '@'."""
    start = URL_START.match(url)
    if not start:
        return None
    begin = start.end()
    authority = re.split(r"[/?#]", url[begin:], maxsplit=1)[0]
    if "@" in authority:
        return begin, begin + authority.rindex("@")
    host_and_port = authority.partition("]")[2] if authority.startswith("[") else authority  # [IPv6]
    _, colon, port = host_and_port.partition(":")
    # A port is a number; an s3:// URL has none (a bucket's name holds no ':').
    port_is_valid = not colon or (re.fullmatch(r"[0-9]{1,5}", port) and not is_s3(url))
    if port_is_valid or "@" not in url[begin:]:
        return None
    return begin, url.rindex("@")


def secret_parameters(url: str) -> list[tuple[str, int, int]]:
    """The query parameters of `url` that hold a signature or a secret (SECRET_PARAMETERS), each as
    its name and where its value is."""
    if not URL_START.match(url):
        return []
    userinfo = userinfo_span(url)
    question_mark = url.find("?", userinfo[1] if userinfo else 0)  # a password may hold a '?'
    if question_mark < 0:
        return []
    query_start = question_mark + 1
    query = url[query_start:].partition("#")[0]
    found = []
    for parameter in re.finditer(r"[^&]+", query):
        name, equals, value = parameter.group().partition("=")
        if value and unquote_plus(name).strip().lower() in SECRET_PARAMETERS:
            value_start = query_start + parameter.start() + len(name) + len(equals)
            found.append((unquote_plus(name).strip(), value_start, value_start + len(value)))
    return found


def redacted(url: str) -> str:
    """`url` with its secrets replaced by `***`: the password (the user when there is no password:
    a token given as the user) and the values of secret query parameters. Other text is unchanged."""
    secrets = [(start, end) for _, start, end in secret_parameters(url)]
    userinfo = userinfo_span(url)
    if userinfo:
        user, colon, _ = url[userinfo[0] : userinfo[1]].partition(":")
        secrets.insert(0, (userinfo[0] + len(user) + len(colon), userinfo[1]) if colon else userinfo)
    shown, shown_to = [], 0
    for start, end in secrets:
        shown += [url[shown_to:start], "***"]
        shown_to = end
    return "".join([*shown, url[shown_to:]])


def clear_text_host(url: str) -> str | None:
    """The host of an http:// URL that is not this machine (localhost, 127.0.0.0/8, ::1): where a
    password sent with Basic authentication travels in clear text. None for https:// or this machine."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() != "http" or not host or host == "localhost":
        return None
    try:
        return None if ipaddress.ip_address(host).is_loopback else host
    except ValueError:
        return host  # a name other than localhost
