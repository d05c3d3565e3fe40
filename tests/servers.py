"""Throwaway real servers for the test suite: PostgreSQL, MariaDB, S3 (moto), Mosquitto, and
the Azurite (Azure Blob) and gcp-storage-emulator (GCS) emulators.

Each server listens on 127.0.0.1 on a random free port, keeps all its files in its own temp
directory and is stopped (by pid, whole process group) and removed on :meth:`stop`, with an
``atexit`` backstop for runs that die half-way. A missing binary raises
:class:`ServerUnavailable`, which the fixtures turn into a skip (or a failure when
``COLMIG_REQUIRE_SERVERS=1``). A server that is installed but does not come up raises
:class:`ServerStartError` with the tail of its log.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
DB_USER = "colmig"
DB_PASSWORD = "colmig-s3cret-pw"
PG_BINDIR_DEFAULT = "/usr/lib/postgresql/15/bin"
UNPRIVILEGED_USER = "colmigtest"
S3_ACCESS_KEY = "colmig-test-access-key"
S3_SECRET_KEY = "colmig-test-secret-key"
S3_REGION = "us-east-1"
AZURE_ACCOUNT = "colmigtest"
#: Not Azurite's well-known key, so a leak of it in colmig's output is ours to find.
AZURE_KEY = "Y29sbWlnLWF6dXJpdGUtdGVzdC1rZXktZG8tbm90LWxlYWstaXQ="
GCS_PROJECT = "colmig-test"
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where scripts/install-test-deps.sh installs npm packages (azurite).
NPM_BIN = REPO_ROOT / ".cache" / "npm" / "node_modules" / ".bin"
START_TIMEOUT = 60.0


class ServerUnavailable(Exception):
    """The server's binary is not installed on this machine."""


class ServerStartError(RuntimeError):
    """The server is installed but did not start; the message holds its log tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def is_root() -> bool:
    return os.geteuid() == 0


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, or a note that it is missing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"(empty log at {path})"


def which_or_unavailable(name: str, *extra_dirs: str) -> str:
    """Absolute path of executable ``name`` (also looked up in ``extra_dirs``)."""
    search = os.pathsep.join([*extra_dirs, os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=search)
    if not found:
        raise ServerUnavailable(f"{name} is not installed (run scripts/install-test-deps.sh)")
    return found


def ensure_unprivileged_user(name: str = UNPRIVILEGED_USER) -> pwd.struct_passwd:
    """Return (creating it if needed) a system user to run servers that refuse root."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = which_or_unavailable("useradd")
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 9):  # 9: the user appeared meanwhile
        raise ServerStartError(f"useradd {name} failed: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def run_checked(cmd: list[str], *, what: str, **kwargs: object) -> subprocess.CompletedProcess:
    """Run ``cmd``; raise ServerStartError with its output when it fails."""
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise ServerStartError(
            f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the test process dies, even by SIGKILL (Linux only).

    Runs after the setuid to an unprivileged user, which would otherwise clear the setting.
    """
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so atexit stops the servers when CI kills the run."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(0) but is dead
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


SERVER_KINDS = ("postgres", "mariadb", "s3", "mosquitto", "azurite", "gcs")


def reap_stale() -> None:
    """Kill and remove servers left behind by test runs that were killed (SIGKILL, OOM)."""
    tmp = Path(tempfile.gettempdir())
    for path in (p for kind in SERVER_KINDS for p in tmp.glob(f"colmig-{kind}-*")):
        try:
            owner = int((path / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if _alive(owner):
            continue
        with contextlib.suppress(OSError, ValueError):
            os.killpg(int((path / "server.pid").read_text()), signal.SIGKILL)
        shutil.rmtree(path, ignore_errors=True)


class Server:
    """Common life cycle: temp dir, one child process in its own group, probe, stop."""

    name = "server"

    def __init__(self) -> None:
        reap_stale()
        self.dir = Path(tempfile.mkdtemp(prefix=f"colmig-{self.name}-"))
        (self.dir / "owner.pid").write_text(str(os.getpid()))
        self.log_path = self.dir / f"{self.name}.log"
        self.port = 0
        self.host = HOST
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopped = False
        atexit.register(self.stop)

    def _spawn(self, cmd: list[str], **kwargs: object) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(  # type: ignore[call-overload]
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=_die_with_parent,
                **kwargs,
            )
        (self.dir / "server.pid").write_text(str(self.proc.pid))

    def _wait_ready(self, probe: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with code {self.proc.returncode} while starting on "
                    f"port {self.port}; log {self.log_path}:\n{log_tail(self.log_path)}"
                )
            try:
                if probe():
                    return
            except Exception as exc:  # the probe's own failure is the reason we keep waiting
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise ServerStartError(
            f"{self.name} did not become ready on {self.host}:{self.port} within {timeout:.0f}s"
            f"{' (last probe error: ' + last_error + ')' if last_error else ''}; "
            f"log {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, self._stop_signal())
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)

    def _stop_signal(self) -> int:
        return signal.SIGTERM

    def stop(self) -> None:
        """Stop the process group and delete the directory; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._kill()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def start_with_port_retries(self, attempts: int = 3) -> None:
        """Start on a fresh free port; retry when another process grabbed it meanwhile."""
        for attempt in range(attempts):
            self.port = free_port()
            try:
                self._start()
                return
            except ServerStartError as exc:
                self._kill()
                in_use = "in use" in str(exc).lower()
                if not in_use or attempt == attempts - 1:
                    self.stop()
                    raise
            except BaseException:
                self.stop()
                raise

    def _start(self) -> None:
        raise NotImplementedError


class PostgresServer(Server):
    """A PostgreSQL cluster; superuser ``postgres`` over the socket (trust), ``colmig`` on TCP
    with a SCRAM password."""

    name = "postgres"
    admin_user = "postgres"

    def __init__(self) -> None:
        self.bindir = self._find_bindir()
        super().__init__()
        self.data_dir = self.dir / "data"
        self.socket_dir = self.dir / "sock"
        self.user = DB_USER
        self.password = DB_PASSWORD
        self._run_as: dict[str, object] = {}

    @staticmethod
    def _find_bindir() -> str:
        candidates = []
        pg_config = shutil.which("pg_config")
        if pg_config:
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                out = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, check=True
                )
                candidates.append(out.stdout.strip())
        candidates.append(PG_BINDIR_DEFAULT)
        for bindir in candidates:
            if bindir and all(Path(bindir, exe).is_file() for exe in ("initdb", "postgres")):
                return bindir
        raise ServerUnavailable(
            f"PostgreSQL server binaries (initdb, postgres) not found in {', '.join(candidates)}"
            " (run scripts/install-test-deps.sh)"
        )

    def start(self) -> PostgresServer:
        if is_root():
            account = ensure_unprivileged_user()
            self._run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        self.socket_dir.mkdir()
        self.log_path.touch()
        if self._run_as:
            for path in (self.socket_dir, self.log_path):
                os.chown(path, self._run_as["user"], self._run_as["group"])  # type: ignore[arg-type]
        try:
            run_checked(
                [
                    f"{self.bindir}/initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.admin_user,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                what="initdb",
                cwd=self.dir,
                **self._run_as,
            )
        except BaseException:
            self.stop()
            raise
        self.start_with_port_retries()
        self.admin_sql(
            f"CREATE ROLE {self.user} LOGIN SUPERUSER PASSWORD '{self.password}'",
        )
        return self

    def _start(self) -> None:
        self._spawn(
            [
                f"{self.bindir}/postgres",
                "-D",
                str(self.data_dir),
                "-k",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=150",
                "-c",
                "logging_collector=off",
            ],
            cwd=self.dir,
            **self._run_as,
        )
        self._wait_ready(self._ready)

    def _stop_signal(self) -> int:
        return signal.SIGINT  # "fast" shutdown: disconnect clients, no waiting

    def _ready(self) -> bool:
        if not (self.socket_dir / f".s.PGSQL.{self.port}").exists():
            return False
        return self._psql("SELECT 1", check=False).returncode == 0

    def _psql(
        self, sql: str, *, database: str = "postgres", check: bool = True
    ) -> subprocess.CompletedProcess:
        cmd = [
            f"{self.bindir}/psql" if Path(self.bindir, "psql").is_file() else "psql",
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            self.admin_user,
            "-d",
            database,
            "-c",
            sql,
        ]
        if check:
            return run_checked(cmd, what="psql")
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    def admin_sql(self, sql: str, *, database: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the socket; return psql's unaligned output."""
        return self._psql(sql, database=database).stdout

    def create_database(self, name: str) -> str:
        self.admin_sql(f'CREATE DATABASE "{name}" OWNER {self.user}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{self.user}:{self.password}@{HOST}:{self.port}/{database}"


class MariaDBServer(Server):
    """A MariaDB server; root over the socket without password, ``colmig`` on TCP with one."""

    name = "mariadb"

    def __init__(self) -> None:
        self.install_db = which_or_unavailable("mariadb-install-db")
        self.mariadbd = which_or_unavailable("mariadbd")
        self.client = which_or_unavailable("mariadb")
        super().__init__()
        self.data_dir = self.dir / "data"
        self.socket_path = self.dir / "mariadb.sock"
        self.user = DB_USER
        self.password = DB_PASSWORD
        self.run_user = "root" if is_root() else pwd.getpwuid(os.geteuid()).pw_name

    def start(self) -> MariaDBServer:
        try:
            run_checked(
                [
                    self.install_db,
                    "--no-defaults",
                    f"--datadir={self.data_dir}",
                    f"--user={self.run_user}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                ],
                what="mariadb-install-db",
                cwd=self.dir,
            )
        except BaseException:
            self.stop()
            raise
        self.start_with_port_retries()
        for host in ("%", "localhost"):
            self.admin_sql(
                f"CREATE USER IF NOT EXISTS '{self.user}'@'{host}' IDENTIFIED BY '{self.password}';"
                f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'{host}' WITH GRANT OPTION;"
            )
        self.admin_sql("FLUSH PRIVILEGES")
        return self

    def _start(self) -> None:
        self._spawn(
            [
                self.mariadbd,
                "--no-defaults",
                f"--datadir={self.data_dir}",
                f"--socket={self.socket_path}",
                f"--port={self.port}",
                f"--bind-address={HOST}",
                "--skip-networking=0",
                "--skip-name-resolve",
                "--local-infile=1",
                f"--user={self.run_user}",
                f"--pid-file={self.dir / 'mariadb.pid'}",
                f"--log-error={self.log_path}",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=48M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--max-allowed-packet=256M",
                "--max-connections=200",
                "--skip-log-bin",
            ],
            cwd=self.dir,
        )
        self._wait_ready(self._ready)

    def _ready(self) -> bool:
        return (
            self.socket_path.exists()
            and port_open(self.port)
            and self._client("SELECT 1", check=False).returncode == 0
        )

    def _client(self, sql: str, *, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [
            self.client,
            "--no-defaults",
            "--protocol=socket",
            f"--socket={self.socket_path}",
            "-uroot",
            "--batch",
            "--skip-column-names",
            "-e",
            sql,
        ]
        if check:
            return run_checked(cmd, what="mariadb client")
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    def admin_sql(self, sql: str) -> str:
        """Run ``sql`` as root over the socket; return the client's tab-separated output."""
        return self._client(sql).stdout

    def create_database(self, name: str) -> str:
        self.admin_sql(f"CREATE DATABASE `{name}`")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.admin_sql(f"DROP DATABASE IF EXISTS `{name}`")

    def url(self, database: str = "") -> str:
        return f"mysql://{self.user}:{self.password}@{HOST}:{self.port}/{database}"


class S3Server(Server):
    """moto's S3-compatible server in a subprocess."""

    name = "s3"

    def __init__(self) -> None:
        import importlib.util

        if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
            raise ServerUnavailable("moto[server] is not installed (pip install 'moto[server]')")
        super().__init__()
        self.access_key = S3_ACCESS_KEY
        self.secret_key = S3_SECRET_KEY
        self.region = S3_REGION

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment that points boto3, s3fs and child processes at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
        }

    def start(self) -> S3Server:
        self.start_with_port_retries()
        return self

    def _start(self) -> None:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self._spawn(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
            cwd=self.dir,
            env=env,
        )
        self._wait_ready(self._ready)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/", timeout=2) as response:
                return response.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500

    def client(self) -> Any:
        """A boto3 S3 client for this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return f"s3://{name}"


class MosquittoServer(Server):
    """A Mosquitto MQTT broker allowing anonymous clients."""

    name = "mosquitto"

    def __init__(self) -> None:
        self.binary = which_or_unavailable("mosquitto")
        super().__init__()
        self.config_path = self.dir / "mosquitto.conf"

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    def start(self) -> MosquittoServer:
        self.start_with_port_retries()
        return self

    def _start(self) -> None:
        lines = [
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
        ]
        if is_root():
            lines.append("user root")  # otherwise it drops to 'mosquitto', which may not exist
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._spawn([self.binary, "-c", str(self.config_path)], cwd=self.dir)
        self._wait_ready(lambda: port_open(self.port))


def _http_up(url: str) -> bool:
    """True when ``url`` answers HTTP with anything but a server error."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as exc:
        return exc.code < 500


class AzuriteServer(Server):
    """Azurite's Blob service (npm ``azurite``) with one account whose key is not the
    well-known development key; telemetry off."""

    name = "azurite"

    def __init__(self) -> None:
        self.node = which_or_unavailable("node")
        self.binary = which_or_unavailable("azurite-blob", str(NPM_BIN))
        super().__init__()
        self.account = AZURE_ACCOUNT
        self.key = AZURE_KEY

    @property
    def endpoint(self) -> str:
        """The account's blob endpoint (Azurite puts the account in the path)."""
        return f"http://{HOST}:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};"
            f"AccountKey={self.key};BlobEndpoint={self.endpoint};"
        )

    @property
    def env(self) -> dict[str, str]:
        """What a user sets so adlfs (and colmig) reach this account."""
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}

    def start(self) -> AzuriteServer:
        self.start_with_port_retries()
        return self

    def _start(self) -> None:
        data = self.dir / "data"
        data.mkdir(exist_ok=True)
        env = {**os.environ, "AZURITE_ACCOUNTS": f"{self.account}:{self.key}"}
        self._spawn(
            [
                self.binary,
                "--blobHost",
                HOST,
                "--blobPort",
                str(self.port),
                "--location",
                str(data),
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
            ],
            cwd=self.dir,
            env=env,
        )
        self._wait_ready(lambda: port_open(self.port) and _http_up(f"{self.endpoint}?comp=list"))

    def create_container(self, name: str) -> str:
        """Create container ``name``; return ``az://name``."""
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.connection_string)
        with client:
            client.create_container(name)
        return f"az://{name}"


class GcsEmulatorServer(Server):
    """gcp-storage-emulator (PyPI): the GCS JSON API over plain HTTP, files in its temp dir."""

    name = "gcs"

    def __init__(self) -> None:
        import importlib.util

        if importlib.util.find_spec("gcp_storage_emulator") is None:
            raise ServerUnavailable(
                "gcp-storage-emulator is not installed (run scripts/install-test-deps.sh)"
            )
        super().__init__()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a user sets so gcsfs (and colmig) use this emulator."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def start(self) -> GcsEmulatorServer:
        self.start_with_port_retries()
        return self

    def _start(self) -> None:
        data = self.dir / "data"
        data.mkdir(exist_ok=True)
        self._spawn(
            [
                sys.executable,
                "-m",
                "gcp_storage_emulator",
                "--data-dir",
                str(data),
                "start",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--project-number",
                "1234",
            ],
            cwd=self.dir,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._wait_ready(lambda: _http_up(f"{self.endpoint}/storage/v1/b?project={GCS_PROJECT}"))

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name``; return ``gs://name``."""
        import json

        request = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project={GCS_PROJECT}",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        return f"gs://{name}"
