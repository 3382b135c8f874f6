"""Real servers for the replication tests, on 127.0.0.1: OpenSSH's sshd (an SFTP remote)
and ``rclone serve webdav`` (a WebDAV server that keeps no hashes), plus an rclone
``crypt`` remote over a local folder. Everything lives in a temporary rclone
configuration file (``RCLONE_CONFIG``) and temporary keys: never the user's."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import require_tool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} stopped at once (exit {proc.returncode}):\n{log.read_text(errors='replace')}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{what} did not listen on 127.0.0.1:{port} within 20 s:\n{log.read_text(errors='replace')}")


@dataclass
class Servers:
    config: Path  # the rclone configuration file
    sftp_root: Path  # what the SFTP remote "sftp:" + path shows (a local folder)
    webdav_root: Path  # the folder `rclone serve webdav` serves as "dav:"
    crypt_root: Path  # where the crypt remote "secret:" keeps its encrypted files
    env: dict[str, str]


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> Servers:
    """sshd and a WebDAV server for the session, and an rclone configuration naming them:
    ``sftp:`` (key login as the current user, the host key pinned), ``dav:``, ``secret:``
    (crypt over a local folder) and ``localsums:`` (rclone's local backend)."""
    rclone = require_tool("rclone")
    sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if sshd is None:
        pytest.fail("sshd is not installed: run scripts/install.sh --test (Debian package openssh-server)")
    require_tool("ssh-keygen")
    base = tmp_path_factory.mktemp("servers")
    keys = base / "keys"
    keys.mkdir()
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    authorized = keys / "authorized_keys"
    shutil.copyfile(keys / "user_key.pub", authorized)
    os.chmod(authorized, 0o600)
    # sshd refuses to start without its privilege-separation folder (Debian: /run/sshd).
    privsep = Path("/run/sshd")
    if os.geteuid() == 0 and not privsep.is_dir():
        privsep.mkdir(mode=0o755, parents=True, exist_ok=True)
    port = free_port()
    user = os.environ.get("USER") or __import__("getpass").getuser()
    config = keys / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {keys / 'host_key'}",
        f"AuthorizedKeysFile {authorized}", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no",
        "Subsystem sftp internal-sftp", f"PidFile {keys / 'sshd.pid'}", "LogLevel ERROR", "MaxSessions 50",
        "MaxStartups 50", "",
    ]))
    log = base / "sshd.log"
    sshd_proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=open(log, "wb"),
                                 stderr=subprocess.STDOUT)
    wait_for_port(port, sshd_proc, "sshd", log)
    known = keys / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {(keys / 'host_key.pub').read_text().strip()}\n")

    sftp_root, webdav_root, crypt_root = base / "sftp", base / "webdav", base / "crypt"
    for folder in (sftp_root, webdav_root, crypt_root):
        folder.mkdir()
    dav_port = free_port()
    dav_log = base / "webdav.log"
    dav_proc = subprocess.Popen([rclone, "serve", "webdav", str(webdav_root), "--addr", f"127.0.0.1:{dav_port}"],
                                stdout=open(dav_log, "wb"), stderr=subprocess.STDOUT,
                                env={**os.environ, "RCLONE_CONFIG": str(base / "empty.conf")})
    wait_for_port(dav_port, dav_proc, "rclone serve webdav", dav_log)

    def obscure(secret: str) -> str:
        return subprocess.run([rclone, "obscure", secret], capture_output=True, text=True, check=True).stdout.strip()

    rclone_config = base / "rclone.conf"
    rclone_config.write_text("\n".join([
        "[sftp]", "type = sftp", "host = 127.0.0.1", f"port = {port}", f"user = {user}",
        f"key_file = {keys / 'user_key'}", f"known_hosts_file = {known}",
        # Hashing runs md5sum on the server once per file over SSH (a third of a second a
        # file here); the SFTP tests take the download-and-hash path, the MD5 path is
        # tested over rclone's local backend (localsums:).
        "disable_hashcheck = true", "",
        "[dav]", "type = webdav", f"url = http://127.0.0.1:{dav_port}/", "vendor = other", "",
        "[secret]", "type = crypt", f"remote = {crypt_root}", f"password = {obscure('test-only passphrase')}",
        f"password2 = {obscure('test-only salt')}", "",
        "[localsums]", "type = local", "",
    ]))
    env = {**os.environ, "RCLONE_CONFIG": str(rclone_config)}
    old = os.environ.get("RCLONE_CONFIG")
    os.environ["RCLONE_CONFIG"] = str(rclone_config)
    try:
        yield Servers(rclone_config, sftp_root, webdav_root, crypt_root, env)
    finally:
        if old is None:
            os.environ.pop("RCLONE_CONFIG", None)
        else:
            os.environ["RCLONE_CONFIG"] = old
        for proc in (sshd_proc, dav_proc):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
