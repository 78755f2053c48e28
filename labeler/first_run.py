"""``make run``: the embedded default, set up and served, for one machine or for a team.

    python -m labeler.first_run [--host HOST] [--port PORT] [--reload]

On a loopback address (``make run``'s default, 127.0.0.1) it serves the person at this
machine, as development does: debug pages on, the key of this install under ``var/``.
The server restarts on a change to the code only with ``--reload`` (``make run
RELOAD=1``): Django's reloader looks at every module's file each second, a few percent
of a core, and held uploads of photos back by a tenth; and a restart drops the tasks the
server had queued in memory until it sends them again.

On any other address (``make run HOST=0.0.0.0``: every interface) it serves colleagues
on their own machines. The machine's network addresses are found; the site's address,
the start of every link it sends (invitations, password resets, exports), is the one the
route out leaves from (or ``LABELER_SITE_URL`` when set); allowed hosts are those
addresses and the machine's name (or ``ALLOWED_HOSTS`` when set). Debug pages are off,
the signing key is kept on disk (``var/secret_key``, mode 0600; ``SECRET_KEY`` when set)
and the static files are collected and served by the application. Cookies travel
without TLS, since there is none between a team's machines: fit for a trusted network,
not the internet, and the admin is told so.

Either way: migrate (one line, not one a migration), the demo project (once), then
Django's threaded server, tasks in-process, on the embedded SQLite database.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
EVERY_INTERFACE = ("", "0.0.0.0", "::", "[::]")
# Where a datagram socket is pointed to learn which address the route out leaves from:
# nothing is sent (TEST-NET-3, RFC 5737; a connect on UDP only picks the route).
ROUTE_PROBE = ("203.0.113.1", 9)


def loopback(host: str) -> bool:
    """Whether ``host`` serves only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def network_addresses(interfaces: Mapping[str, Iterable[object]] | None = None) -> list[str]:
    """This machine's IPv4 addresses on interfaces that are up, loopback and link-local
    apart, in the interfaces' order (``psutil.net_if_addrs()`` unless given)."""
    if interfaces is None:
        up = {name for name, stats in psutil.net_if_stats().items() if stats.isup}
        interfaces = {name: found for name, found in psutil.net_if_addrs().items() if name in up}
    addresses: list[str] = []
    for found in interfaces.values():
        for address in found:
            if getattr(address, "family", None) != socket.AF_INET:
                continue
            parsed = ipaddress.IPv4Address(str(getattr(address, "address", "")))
            if not (parsed.is_loopback or parsed.is_link_local) and str(parsed) not in addresses:
                addresses.append(str(parsed))
    return addresses


def routed_address() -> str | None:
    """The address this machine's route out leaves from, None without a route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(ROUTE_PROBE)
        except OSError:
            return None
        return str(probe.getsockname()[0])


def served_addresses(host: str) -> list[str]:
    """The addresses colleagues reach a server listening on ``host`` at, the site's own
    first: every network address for every interface, else ``host`` itself."""
    if host not in EVERY_INTERFACE:
        return [host.strip("[]")]
    addresses = network_addresses()
    routed = routed_address()
    if routed in addresses:
        addresses.remove(routed)
        addresses.insert(0, routed)
    return addresses


def origin(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


def team_environment(
    addresses: list[str], port: int, environ: Mapping[str, str], var_dir: Path
) -> dict[str, str]:
    """The environment a team's server runs with: what the admin set wins."""
    from labeler.secret_key import local_secret_key

    names = [socket.gethostname(), socket.getfqdn()]
    hosts = [*addresses, *dict.fromkeys(n for n in names if n), "127.0.0.1", "localhost"]
    defaults = {
        "ALLOWED_HOSTS": ",".join(dict.fromkeys(hosts)),
        "LABELER_SITE_URL": origin(addresses[0], port),
        # Plain HTTP between the team's machines: no redirect to https, no HSTS, cookies
        # not marked secure (a browser would not send them back over http).
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
    }
    given = {key: value for key, value in environ.items() if value or key not in defaults}
    env = {**defaults, **given, "DEBUG": "0"}  # an empty ALLOWED_HOSTS= is none given
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = local_secret_key(var_dir / "secret_key")
    return env


def team_notice(addresses: list[str], port: int, env: Mapping[str, str], key_place: str) -> str:
    names = [n for n in env["ALLOWED_HOSTS"].split(",") if n not in ("127.0.0.1", "localhost")]
    opened = [origin(a, port) for a in addresses]
    opened += [origin(n, port) for n in names if n not in addresses]
    return "\n".join(
        [
            f"Serving the team on port {port}. Colleagues on this network open:",
            *(f"  {address}/" for address in dict.fromkeys(opened)),
            f"Links the site sends (invitations, password resets, exports) start with "
            f"{env['LABELER_SITE_URL']} (LABELER_SITE_URL sets another).",
            "Fit for a trusted network (an office, a VPN): debug pages are off and the "
            f"signing key stays on this machine ({key_place}).",
            "Not fit for the internet: without TLS, passwords and sessions cross the network "
            "readable, and one process with SQLite and in-process tasks serves everyone. "
            "For more than that: docker-compose behind TLS (docs/deployment.md).",
        ]
    )


def prepare(host: str, port: int, demo_images: int) -> None:
    """Migrate, load the demo (once) and, with debug pages off, collect the static files,
    in this process: each process costs seconds of start-up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    django.setup()
    executor = MigrationExecutor(connection)
    waiting = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    if waiting:
        print(f"Preparing the database ({waiting} migrations)...", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo", host=host, port=port, images=demo_images)
    if not settings.DEBUG:
        call_command("collectstatic", interactive=False, verbosity=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--demo-images", type=int, default=600, help="digits in the demo")
    parser.add_argument(
        "--reload", action="store_true", help="restart on a change to the code (this machine only)"
    )
    options = parser.parse_args(argv)
    host, port = options.host, options.port
    var_dir = Path(os.environ.get("LABELER_VAR_DIR") or ROOT / "var")
    if loopback(host):
        env = {"DEBUG": "1", **os.environ}
        env["LABELER_SITE_URL"] = env.get("LABELER_SITE_URL") or origin(host, port)
        notice = None
        shown = host
    else:
        addresses = served_addresses(host)
        if not addresses:
            sys.exit(
                f"No network address to serve on (HOST={host}): this machine has no "
                "interface up with an IPv4 address. HOST=127.0.0.1 serves this machine only."
            )
        env = team_environment(addresses, port, os.environ, var_dir)
        key_place = "SECRET_KEY" if os.environ.get("SECRET_KEY") else str(var_dir / "secret_key")
        notice = team_notice(addresses, port, env, key_place)
        shown = addresses[0]
    os.environ.update(env)
    prepare(shown, port, options.demo_images)
    if notice:
        print(notice, flush=True)
        if options.reload:
            print("--reload is for this machine only: a team's server runs without it.")
    command = server_command(host, port, reload=options.reload and not notice)
    os.execve(sys.executable, command, dict(os.environ))


def server_command(host: str, port: int, *, reload: bool = False) -> list[str]:
    """Django's threaded server on ``host:port``: one process, restarted on a change to
    the code only when ``reload`` (never on a team's server: nothing is edited there)."""
    listen = f"[{host.strip('[]')}]" if ":" in host else (host or "0.0.0.0")
    command = [sys.executable, str(ROOT / "manage.py"), "runserver", f"{listen}:{port}"]
    return command if reload else [*command, "--noreload"]


if __name__ == "__main__":
    main()
