"""Real servers on loopback for the cluster tests: PostgreSQL (Debian's, run as the `postgres`
user, since it refuses to run as root) and a Dask scheduler with its workers."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
# absolute: the refusing worker runs with a PATH that finds none of them
UNSHARE, SH, MOUNT = (shutil.which(tool) for tool in ("unshare", "sh", "mount"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Postgres:
    """A PostgreSQL server in a temporary folder, trusting local connections."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        assert bins, "Debian's postgresql is not installed (`make test` installs it)"
        self.bin = bins[-1].parent
        # under /tmp itself: pytest's folders are closed to the postgres user
        self.folder = Path(tempfile.mkdtemp(prefix="nnlab-postgres-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        self._as_postgres(self.bin / "initdb", "-D", self.folder / "data", "-U", "postgres",
                          "--auth=trust", "--no-sync")
        self._as_postgres(self.bin / "pg_ctl", "-D", self.folder / "data", "-w", "-l",
                          self.folder / "server.log", "-o",
                          f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")

    def _as_postgres(self, *command):
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True,
                       capture_output=True, cwd=self.folder)

    def url(self, database):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'create database "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self):
        self._as_postgres(self.bin / "pg_ctl", "-D", self.folder / "data", "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class DaskCluster:
    """`dask scheduler` and `dask worker`s on loopback, each in an empty folder of its own, in a
    mount namespace where `hidden` (the tests' course roots) is an empty tmpfs: the workers can
    reach the course only through the scheduler."""

    def __init__(self, hidden, workers=2, refusing=0):
        self.folder = Path(tempfile.mkdtemp(prefix="nnlab-dask-"))
        self.hidden = hidden
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.processes = []
        try:
            self.scheduler = self._start("scheduler", [
                BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port",
                self.address.rsplit(":", 1)[1], "--no-dashboard"])
            for index in range(workers):
                self.start_worker(f"worker{index}")
            for index in range(refusing):  # no bwrap on its PATH: cannot build the sandbox
                self.start_worker(f"refusing{index}", env={"PATH": str(BIN)})
            self.wait_for_workers(workers + refusing)
        except BaseException:
            self.stop()
            raise

    def start_worker(self, name, env=None):
        command = [BIN / "dask", "worker", self.address, "--name", name, "--nthreads", "1",
                   "--no-dashboard", "--host", "127.0.0.1", "--local-directory", "."]
        hide = f"{MOUNT} -t tmpfs -o size=1m none {self.hidden} && exec \"$@\""
        return self._start(name, [UNSHARE, "--mount", "--propagation", "private", SH, "-c",
                                  hide, SH, *command], env)

    def _start(self, name, command, env=None):
        folder = self.folder / name
        folder.mkdir()
        log = open(folder / "log", "w")
        process = subprocess.Popen([str(part) for part in command], cwd=folder, stdout=log,
                                   stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})),
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, count):
        with self.client() as client:
            client.wait_for_workers(count, timeout=120)

    def log(self, name):
        return (self.folder / name / "log").read_text()

    def stop(self):
        """Workers first (a worker whose scheduler is gone waits for it before exiting)."""
        _terminate(self.processes[1:])
        _terminate(self.processes[:1])
        shutil.rmtree(self.folder, ignore_errors=True)


def _terminate(processes, seconds=10):
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.time() + seconds
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
