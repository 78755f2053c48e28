"""Where the CPU went during a level: the server, the workers, PostgreSQL, the rest.

Read from /proc (Linux): the user and system time of every process at the start and the
end of a run. Processes are put in parts: each server's process group (gunicorn, the
Celery workers), the PostgreSQL backends serving the benchmark's database, PostgreSQL's
other processes (its background writers, other databases' sessions), and the load
generator (the benchmark's own children, whose time it reports itself). Whatever is left
is listed by command name, so that work from elsewhere on a shared machine shows.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Process:
    command: str
    parent: int
    group: int
    seconds: float  # user + system CPU so far


@dataclass(frozen=True)
class CpuSnapshot:
    at: float  # time.monotonic()
    processes: dict[int, Process]
    groups: dict[int, str]  # process group: part name
    backends: set[int]  # PostgreSQL backends of the benchmark's database
    machine_busy: float  # CPU seconds the machine spent busy so far, all cores


def cpu_snapshot(groups: dict[str, int], backends: set[int]) -> CpuSnapshot:
    """Every process's CPU time so far, with what is needed to sort them into parts."""
    processes = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            process = _read(entry)
            if process is not None:
                processes[int(entry.name)] = process
    named = {pgid: name.split("-")[0] for name, pgid in groups.items()}
    return CpuSnapshot(time.monotonic(), processes, named, backends, _machine_busy())


def cpu_split(start: CpuSnapshot, end: CpuSnapshot, client_seconds: float) -> dict[str, float]:
    """Cores in use on average between the snapshots, per part.

    The client's part is the CPU time the load generator reported for itself; "other"
    parts are named "other: <command>" (the three largest), and "machine" is the total.
    """
    wall = max(end.at - start.at, 1e-9)
    parts: dict[str, float] = {"client": client_seconds / wall}
    others: dict[str, float] = {}
    for pid, process in end.processes.items():
        before = start.processes.get(pid)
        used = process.seconds - (before.seconds if before and before.group == process.group else 0)
        part = _part(pid, process, end)
        if part == "client" or used <= 0:
            continue
        if part is None:
            others[process.command] = others.get(process.command, 0.0) + used / wall
        else:
            parts[part] = parts.get(part, 0.0) + used / wall
    for command, cores in sorted(others.items(), key=lambda item: -item[1])[:3]:
        parts[f"other: {command}"] = cores
    parts["machine"] = (end.machine_busy - start.machine_busy) / wall
    parts["cores"] = float(os.cpu_count() or 1)
    parts["seconds"] = wall
    return parts


def _part(pid: int, process: Process, snapshot: CpuSnapshot) -> str | None:
    if pid in snapshot.backends:
        return "postgres"
    if process.group in snapshot.groups:
        return snapshot.groups[process.group]
    if process.parent == os.getpid() or pid == os.getpid():
        return "client"  # the load generator's processes, and this one
    if process.command.startswith("postgres"):
        return "postgres-other"
    return None


def _read(entry: Path) -> Process | None:
    try:
        text = (entry / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after its end.
    command = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    parent, group, utime, stime = int(fields[1]), int(fields[2]), int(fields[11]), int(fields[12])
    return Process(command, parent, group, (utime + stime) / TICKS)


def _machine_busy() -> float:
    first = (PROC / "stat").read_text().splitlines()[0].split()
    values = [int(value) for value in first[1:]]
    idle = values[3] + values[4]  # idle + iowait
    steal = values[7] if len(values) > 7 else 0
    guest = sum(values[8:10])  # already counted in user time
    return (sum(values) - idle - steal - guest) / TICKS
