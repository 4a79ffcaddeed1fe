"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries (``initdb``,
``pg_ctl`` under /usr/lib/postgresql/*/bin, installed by scripts/setup.sh), a temp dir, a free
loopback port, trust auth. Run as the ``postgres`` user when the tests run as root (the
server refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port

USER = "ocrgate"


def find_bin_dir() -> Path | None:
    for name in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(name) / "initdb").exists() and (Path(name) / "pg_ctl").exists():
            return Path(name)
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster; yields the URL of its ``postgres`` database; stops and removes it."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="ocrgate-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in (root, sock):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = free_port()
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", USER,
                                    "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts,
                                    "-l", str(root / "server.log"), "-w", "-t", "60", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                        "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def database(server_url: str) -> Iterator[str]:
    """A fresh database on the cluster for one test; dropped afterwards."""
    import psycopg

    name = "t_" + secrets.token_hex(6)
    dsn = server_url
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
