"""The web container's healthcheck: GET /health/?check=web on this host, exit 0 or 1.

Plain Python, no Django (quick, and the image has no curl). It asks under a host
name the app accepts (the first of ALLOWED_HOSTS), so a production ALLOWED_HOSTS
does not turn the probe into a 400.

    python -m videostudio.ops.probe [URL]
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/health/?check=web"


def probe_host(allowed_hosts: str | None) -> str | None:
    """A Host header the app accepts: the first of ALLOWED_HOSTS (None: the URL's own)."""
    for raw in (allowed_hosts or "").split(","):
        host = raw.strip()
        if not host:
            continue
        if host == "*":
            return None
        return host.lstrip(".")  # ".example.com" accepts example.com
    return None


def probe(url: str = DEFAULT_URL, *, timeout: float = 5.0) -> int:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    host = probe_host(os.environ.get("ALLOWED_HOSTS"))
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(2000).decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(2000).decode("utf-8", "replace"), exc.code
    except OSError as exc:
        print(f"health probe: {url} did not answer: {exc}", file=sys.stderr)
        return 1
    print(f"health probe: {status} {body}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(probe(*sys.argv[1:2]))
