"""As root: run a command as UID:GID where no user namespace can be created, as on a host that
disables them, without changing the host (the limit is set in a user namespace of its own).

    python without_user_namespaces.py UID GID COMMAND...
"""
import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000


def main(uid, gid, command):
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER):
            os._exit(90)
        os.write(ready_w, b"x")
        os.read(go_r, 1)  # the parent maps the uids meanwhile
        with open("/proc/sys/user/max_user_namespaces", "w") as limit:
            limit.write("0")  # for this namespace and those below it only
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.execvp(command[0], command)
    os.read(ready_r, 1)
    for name in ("uid_map", "gid_map"):  # every id as itself
        with open(f"/proc/{pid}/{name}", "w") as mapping:
            mapping.write("0 0 4294967295")
    os.write(go_w, b"x")
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]))
