"""Lifecycle of the local Elasticsearch node the project runs by default.

``dealwatch es start | stop | status``. The distribution is the Maven Central artifact
``org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip``, fetched
with the ordinary Maven client and unpacked once into the cache directory; node data,
logs, configuration and pid file live under the data directory. The node is a single
node bound to 127.0.0.1 with security off (loopback only). Elasticsearch refuses to run
as root, so under root it runs as an unprivileged system user that owns its directories.

Each node on one machine needs its own HTTP and transport ports (the transport port follows the
HTTP port unless set: ``DEALWATCH_ES_PORT`` + 100); both are checked before Java starts, and a
start that fails anyway reports the cause Elasticsearch gave (the fatal exception and its
``Caused by`` lines), not the tail of a stack trace. :class:`ClusterMember` makes a local node
join other local nodes instead of running alone (the multi-node tests).

When ``DEALWATCH_ES_URL`` points at an existing cluster none of this is used.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from dealwatch.processes import read_pid_file, terminate
from dealwatch.settings import Settings

log = logging.getLogger(__name__)

MAVEN_GROUP = "org.elasticsearch.distribution.integ-test-zip"
MAVEN_ARTIFACT = "elasticsearch"
MIN_JAVA = 21


class NodeError(RuntimeError):
    """A problem the user can act on; the message says what is missing."""


# --- the distribution -----------------------------------------------------------------

def maven_coordinates(version: str) -> str:
    return f"{MAVEN_GROUP}:{MAVEN_ARTIFACT}:{version}:zip"


def ensure_distribution(settings: Settings) -> Path:
    """Return the unpacked distribution, downloading and unpacking it on first use."""
    home = settings.es_home
    if (home / "bin" / "elasticsearch").exists():
        return home
    mvn = shutil.which("mvn")
    if not mvn:
        raise NodeError(
            "Elasticsearch is not downloaded yet and Maven ('mvn') is not installed: "
            "install it (apt-get install maven) or set DEALWATCH_ES_URL to an existing cluster."
        )
    downloads = settings.cache_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    zip_path = downloads / f"elasticsearch-{settings.es_version}.zip"
    if not zip_path.exists():
        coords = maven_coordinates(settings.es_version)
        log.info("downloading Elasticsearch %s with Maven (%s)", settings.es_version, coords)
        java_home = find_java(settings)
        env = {**os.environ, "JAVA_HOME": str(java_home)}
        proc = subprocess.run(
            [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={coords}", f"-DoutputDirectory={downloads}"],
            capture_output=True, text=True, env=env, cwd=str(downloads),
        )
        if proc.returncode != 0 or not zip_path.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
            raise NodeError(f"Maven could not fetch {coords}:\n{tail}")
    log.info("unpacking %s", zip_path.name)
    with tempfile.TemporaryDirectory(dir=settings.cache_dir) as tmp:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                extracted = Path(zf.extract(info, tmp))
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    extracted.chmod(mode)
        unpacked = Path(tmp) / f"elasticsearch-{settings.es_version}"
        if not (unpacked / "bin" / "elasticsearch").exists():
            raise NodeError(f"{zip_path} does not contain elasticsearch-{settings.es_version}/bin/elasticsearch")
        for script in (unpacked / "bin").iterdir():
            script.chmod(0o755)
        for java_bin in unpacked.glob("jdk*/bin/*"):
            java_bin.chmod(0o755)
        unpacked.rename(home)
    return home


# --- Java -------------------------------------------------------------------------------

def java_major(java_home: Path) -> int | None:
    java = java_home / "bin" / "java"
    if not java.exists():
        return None
    release = java_home / "release"
    if release.exists():
        m = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if m:
            return int(m.group(1))
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def find_java(settings: Settings) -> Path:
    """A JDK >= 21 from settings, ES_JAVA_HOME, JAVA_HOME or /usr/lib/jvm (newest first)."""
    tried: list[str] = []
    candidates: list[Path] = []
    for name, value in (("DEALWATCH_ES_JAVA_HOME", settings.es_java_home),
                        ("ES_JAVA_HOME", os.environ.get("ES_JAVA_HOME", "")),
                        ("JAVA_HOME", os.environ.get("JAVA_HOME", ""))):
        if value:
            candidates.append(Path(value))
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        found = [(java_major(p) or 0, p) for p in jvm.iterdir() if p.is_dir() and not p.is_symlink()]
        candidates += [p for _, p in sorted(found, key=lambda t: -t[0])]
    for home in candidates:
        major = java_major(home)
        tried.append(f"{home} ({'Java ' + str(major) if major else 'no java'})")
        if major and major >= MIN_JAVA:
            return home
    raise NodeError(
        f"Elasticsearch {settings.es_version} needs a JDK >= {MIN_JAVA}; none found. Tried: "
        + (", ".join(tried) or "nothing (ES_JAVA_HOME, JAVA_HOME unset, no /usr/lib/jvm)")
        + ". Install one (e.g. apt-get install openjdk-21-jdk-headless) or set ES_JAVA_HOME."
    )


# --- the unprivileged user ------------------------------------------------------------

def _run_as(settings: Settings) -> pwd.struct_passwd | None:
    """The account the node runs as: None for a normal user, the system user under root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(settings.es_user)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        nologin = shutil.which("nologin") or "/usr/sbin/nologin"
        proc = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", nologin, settings.es_user],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise NodeError(
                f"Elasticsearch refuses to run as root and the user {settings.es_user!r} could not be created: "
                f"{proc.stderr.strip()}"
            )
        log.info("created system user %s for Elasticsearch", settings.es_user)
        return pwd.getpwnam(settings.es_user)


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


def _check_traversable(path: Path, user: pwd.struct_passwd) -> None:
    for parent in [path, *path.parents]:
        if parent.exists() and not (parent.stat().st_mode & 0o001):
            raise NodeError(
                f"{parent} is not searchable by other users, so {user.pw_name} cannot reach {path}: "
                f"choose another DEALWATCH_DATA_DIR / DEALWATCH_CACHE_DIR or chmod o+x {parent}"
            )


# --- running ----------------------------------------------------------------------------

@dataclass
class NodeStatus:
    url: str
    managed: bool
    running: bool
    pid: int | None = None
    version: str | None = None
    health: str | None = None
    data_path: Path | None = None
    detail: str = ""

    def describe(self) -> str:
        if not self.managed:
            state = f"external cluster at {self.url}"
            if self.running:
                return f"{state}: Elasticsearch {self.version}, health {self.health}"
            return f"{state}: not reachable ({self.detail})"
        if not self.running:
            return f"local node: not running ({self.detail or 'no pid file'}); data in {self.data_path}"
        return (f"local node: running (pid {self.pid}) at {self.url}: Elasticsearch {self.version}, "
                f"health {self.health}; data in {self.data_path}")


def _pid_file(settings: Settings) -> Path:
    return settings.es_run_dir / "elasticsearch.pid"


def _read_pid(settings: Settings) -> int | None:
    return read_pid_file(_pid_file(settings))


def _probe(url: str, timeout: float = 2.0) -> dict | None:
    try:
        # this distribution has no "GET /" info endpoint: read the version from the local node
        nodes = httpx.get(f"{url}/_nodes/_local?filter_path=nodes.*.version", timeout=timeout).json()
        health = httpx.get(f"{url}/_cluster/health", timeout=timeout).json()
    except (httpx.HTTPError, ValueError):
        return None
    versions = [n.get("version") for n in (nodes.get("nodes") or {}).values()]
    return {"version": versions[0] if versions else None, "health": health.get("status")}


def _port_taken(port: int) -> bool:
    """True when Elasticsearch could not bind ``127.0.0.1:port``: another socket listens on it (or holds
    it bound). The check binds like Elasticsearch does (``SO_REUSEADDR``), so connections of a stopped
    node lingering in TIME_WAIT do not count."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def check_ports(settings: Settings) -> None:
    """Fail before Java starts when the node's HTTP or transport port is taken, naming the setting."""
    for port, variable, what in ((settings.es_port, "DEALWATCH_ES_PORT", "HTTP"),
                                 (settings.es_transport_port, "DEALWATCH_ES_TRANSPORT_PORT", "transport")):
        if _port_taken(port):
            raise NodeError(f"the {what} port {port} on 127.0.0.1 is taken by another program (another "
                            f"Elasticsearch node?): stop it or set {variable} to a free port")


def status(settings: Settings) -> NodeStatus:
    if not settings.local_node:
        from indexer.client import make_client  # external cluster: use the configured client
        try:
            es = make_client(settings)
            nodes = es.nodes.info(node_id="_local", filter_path="nodes.*.version")
            health = es.cluster.health()
            version = next(iter(nodes["nodes"].values()))["version"]
            return NodeStatus(settings.shown_es_url, False, True, version=version, health=health["status"])
        except Exception as exc:  # noqa: BLE001 - any transport/auth error is a status to show
            detail = str(exc).replace(settings.es_url, settings.shown_es_url)   # never the password
            return NodeStatus(settings.shown_es_url, False, False, detail=detail)
    url = settings.effective_es_url
    pid = _read_pid(settings)
    probe = _probe(url) if pid else None
    st = NodeStatus(url, True, bool(pid and probe), pid=pid, data_path=settings.es_data_path)
    if probe:
        st.version, st.health = probe["version"], probe["health"]
    elif pid:
        st.detail = f"pid {pid} alive but {url} does not answer"
    return st


@dataclass(frozen=True)
class ClusterMember:
    """A local node that forms a cluster with other local nodes instead of running alone.

    Every member needs its own settings (``es_dir``, ``es_port``, ``es_transport_port``); they find
    each other through ``seed_transport_ports`` on 127.0.0.1, and the first election counts the
    votes of ``initial_master_nodes`` (node names).
    """

    cluster_name: str
    node_name: str
    seed_transport_ports: tuple[int, ...]
    initial_master_nodes: tuple[str, ...]

    def discovery(self) -> str:
        seeds = ", ".join(f'"127.0.0.1:{port}"' for port in self.seed_transport_ports)
        masters = ", ".join(f'"{name}"' for name in self.initial_master_nodes)
        return (f"cluster.name: {self.cluster_name}\n"
                f"node.name: {self.node_name}\n"
                f"discovery.seed_hosts: [{seeds}]\n"
                f"cluster.initial_master_nodes: [{masters}]\n")


SINGLE_NODE = "cluster.name: dealwatch\nnode.name: dealwatch-local\ndiscovery.type: single-node\n"


def _write_config(settings: Settings, home: Path, member: ClusterMember | None = None) -> Path:
    conf = settings.es_root / "config"
    conf.mkdir(parents=True, exist_ok=True)
    for name in ("jvm.options", "log4j2.properties"):
        shutil.copy2(home / "config" / name, conf / name)
    (conf / "jvm.options.d").mkdir(exist_ok=True)
    (conf / "jvm.options.d" / "dealwatch-heap.options").write_text(
        f"-Xms{settings.es_heap}\n-Xmx{settings.es_heap}\n")
    (conf / "elasticsearch.yml").write_text(
        "# written by dealwatch (indexer/node.py) at each start; edit the settings, not this file\n"
        + (member.discovery() if member else SINGLE_NODE) +
        "network.host: 127.0.0.1\n"
        f"http.port: {settings.es_port}\n"
        f"transport.port: {settings.es_transport_port}\n"
        f"path.data: {settings.es_data_path}\n"
        f"path.logs: {settings.es_logs_path}\n"
        "xpack.security.enabled: false\n"
        "xpack.ml.enabled: false\n"
        "cluster.routing.allocation.disk.threshold_enabled: false\n"
        "action.auto_create_index: false\n"
    )
    return conf


@contextlib.contextmanager
def _start_lock(settings: Settings):
    """Serialise starts of one node: two processes starting it at once would race on its pid file."""
    settings.es_run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.es_run_dir / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def start(settings: Settings, wait: bool = True, member: ClusterMember | None = None) -> NodeStatus:
    """Start the local node (downloading it on first use) and wait for cluster health; with ``member``
    the node joins the other local nodes it names instead of running alone."""
    if not settings.local_node:
        raise NodeError(f"DEALWATCH_ES_URL is set ({settings.shown_es_url}): the project does not manage that cluster")
    with _start_lock(settings):
        return _start_unlocked(settings, wait, member)


def _start_unlocked(settings: Settings, wait: bool, member: ClusterMember | None) -> NodeStatus:
    current = status(settings)
    if current.running:
        return current
    check_ports(settings)
    java_home = find_java(settings)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    home = ensure_distribution(settings)
    user = _run_as(settings)
    for d in (settings.es_data_path, settings.es_logs_path, settings.es_run_dir):
        d.mkdir(parents=True, exist_ok=True)
    conf = _write_config(settings, home, member)
    tmp = settings.es_root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _check_traversable(home, user)
        _check_traversable(settings.es_data_path, user)
        _chown_tree(home, user)
        _chown_tree(settings.es_root, user)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAVA_", "ES_", "_JAVA"))}
    env.update({
        "ES_JAVA_HOME": str(java_home),
        "ES_PATH_CONF": str(conf),
        "ES_TMPDIR": str(tmp),
        "HOME": str(settings.es_root),
    })
    pid_file = _pid_file(settings)
    pid_file.unlink(missing_ok=True)
    startup_log = settings.es_logs_path / "startup.log"
    log.info("starting Elasticsearch %s on 127.0.0.1:%s, transport %s (Java %s at %s)", settings.es_version,
             settings.es_port, settings.es_transport_port, java_major(java_home), java_home)
    with open(startup_log, "ab") as out:
        this_start = out.tell()     # the log is kept across starts: read this start's part
        kwargs = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        proc = subprocess.run(
            [str(home / "bin" / "elasticsearch"), "-d", "-p", str(pid_file)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # own session: signals meant for the caller's process group never reach the node
            start_new_session=True,
            cwd=str(settings.es_root), timeout=settings.es_start_timeout, **kwargs,
        )
    if proc.returncode != 0:
        output = _read_from(startup_log, this_start)
        raise NodeError(f"Elasticsearch did not start (exit {proc.returncode}): {startup_cause(output)}\n"
                        f"(its output: {startup_log})")
    if not wait:
        return status(settings)
    return wait_for_health(settings, member)


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


# the launcher's own closing words, which say nothing of the cause
_NO_CAUSE = ("ERROR: Elasticsearch did not exit normally", "ERROR: Elasticsearch exited unexpectedly")


def startup_cause(output: str, max_lines: int = 6) -> str:
    """Why a start failed, from Elasticsearch's output: the fatal exception with its message and each
    ``Caused by``, a failed bootstrap check, or the JVM's own error — not the frames of a stack trace.
    The last lines of the output when none of these is there."""
    causes: list[str] = []
    lines = [line.strip() for line in output.splitlines()]
    for i, line in enumerate(lines):
        fatal = re.search(r"fatal exception while booting Elasticsearch\s*(.+)", line)
        if fatal:
            causes.append(fatal.group(1))
        elif line.startswith("Caused by: "):
            causes.append("caused by " + line[len("Caused by: "):])
        elif line.startswith(("Exception in thread", "bootstrap check failure", "Error occurred during "
                              "initialization of VM", "Invalid ", "Error: ")):
            causes.append(line)
            if line.startswith("Error occurred during") and i + 1 < len(lines) and lines[i + 1]:
                causes.append(lines[i + 1])
        elif line.startswith("ERROR: ") and not line.startswith(_NO_CAUSE):
            causes.append(line[len("ERROR: "):])
    unique = [c[:400] for c in dict.fromkeys(c for c in causes if c)]
    if not unique:
        tail = [line for line in lines if line][-8:]
        return "\n".join(tail) or "(no output)"
    text = "; ".join(unique[:max_lines])
    if "BindTransportException" in text or "BindHttpException" in text:
        text += (" — another program (another node?) holds the port: set DEALWATCH_ES_PORT / "
                 "DEALWATCH_ES_TRANSPORT_PORT to free ports")
    return text


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_for_health(settings: Settings, member: ClusterMember | None = None) -> NodeStatus:
    deadline = time.monotonic() + settings.es_start_timeout
    url = settings.effective_es_url
    while time.monotonic() < deadline:
        probe = _probe(url)
        if probe and probe["health"] in ("green", "yellow"):
            return status(settings)
        if not _read_pid(settings) and _pid_file(settings).exists():
            break
        time.sleep(1)
    main_log = settings.es_logs_path / f"{member.cluster_name if member else 'dealwatch'}.log"
    raise NodeError(f"Elasticsearch at {url} did not become healthy within {settings.es_start_timeout:.0f}s: "
                    f"{startup_cause(_tail(main_log, 300))}\n(its log: {main_log})")


def stop(settings: Settings, timeout: float = 60.0) -> bool:
    """Stop the local node by its pid. Returns False when it was not running."""
    pid = _read_pid(settings)
    if not pid:
        return False
    if not terminate(pid, timeout):
        log.warning("Elasticsearch (pid %s) did not stop within %.0fs; it was killed", pid, timeout)
    _pid_file(settings).unlink(missing_ok=True)
    return True
