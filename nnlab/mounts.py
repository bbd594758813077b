"""The mount table, read where the file system matters: the gradebook's journal (`course`) and the
kernels' control groups (`confinement.cgroups`)."""
import os
from pathlib import Path

TABLE = "/proc/self/mounts"


def mounts(table=TABLE):
    """[(mount point, file system type, options)] in the table's order; [] if it cannot be read."""
    try:
        lines = Path(table).read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 4:  # the table escapes a space in a path as \040
            found.append((fields[1].replace("\\040", " "), fields[2], fields[3].split(",")))
    return found


def filesystem_type(path, table=TABLE):
    """The type of the file system holding `path` ("ext4", "nfs4"...; "" where unknown)."""
    path, found, length = os.path.realpath(path), "", -1
    for point, kind, _ in mounts(table):
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) > length:
            found, length = kind, len(point)
    return found
