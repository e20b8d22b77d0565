"""A selftest holder: joins a cgroup, holds an exact amount of memory, and (the trigger) allocates on
command until the memcg's OOM killer acts.

Run as ``python -I -S child.py JSON`` by :class:`oomlens.selftest.harness.MemcgSandbox`; standard library
only and nothing of oomlens (it must start fast, and must not drag the harness's memory into the
cgroup). ``JSON`` keys: ``procs`` (the cgroup.procs file to join), ``comm``, ``adj``, ``anon``,
``shmem``, ``file`` (bytes), ``file_dir``, ``ptes`` (2 MiB regions whose page tables to fill),
``threads``, ``pin`` (mlockall the interpreter's current mappings first), ``trigger`` (None, or ``{root, file, key, chunk, max}``). Protocol: it prints ``ready``
after touching every page; on ``g`` (trigger only) it allocates in ``chunk`` steps until the sum of
``key`` in every ``file`` under ``root`` moves, then prints ``killed N`` or ``no-oom N`` (bytes
allocated). EOF on stdin (the harness died) makes it exit.
"""
# ruff: noqa
# mypy: ignore-errors

import json, mmap, os, sys
a = json.loads(sys.argv[1])
if a["threads"]:
    import threading
if a["file"] or a.get("pin"):
    import ctypes
P = mmap.PAGESIZE
keep = []

def fail(msg):
    os.write(2, ("oomlens holder %s: %s\n" % (a["comm"], msg)).encode())
    os._exit(2)

def put(path, text):
    with open(path, "w") as f:
        f.write(text)

def say(word):
    # A pipe's buffer is charged to the writer's memcg: with the sandbox at its limit and oom_kill_disable set,
    # the charge fails (ENOMEM) instead of waiting; reclaim or the harness raising the limit makes room.
    for _ in range(100):
        try:
            os.write(1, (word + "\n").encode())
            return
        except MemoryError:
            pass
        except OSError as e:
            if e.errno != 12:   # ENOMEM
                raise
        import time
        time.sleep(0.05)
    fail("cannot write %r to the harness: out of memory (ENOMEM) for 5 s" % word)

def region(size, fd=-1, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE):
    m = mmap.mmap(fd, size, flags=flags, prot=prot)
    try:
        m.madvise(mmap.MADV_NOHUGEPAGE)
    except (AttributeError, OSError):
        pass
    keep.append(m)
    return m

def dirty(m, start, end):
    for off in range(start, end, P):
        m[off] = 1

try:
    put(a["procs"], "0")
    put("/proc/self/comm", a["comm"])
    put("/proc/self/oom_score_adj", str(a["adj"]))   # always: do not inherit the harness's own value
    if a.get("pin"):
        # lock what is mapped now (the interpreter's code and data), not the memory held below: near a
        # global OOM, reclaim would otherwise evict and refault these pages for minutes (thrashing)
        if ctypes.CDLL(None, use_errno=True).mlockall(1):   # MCL_CURRENT
            fail("mlockall: " + os.strerror(ctypes.get_errno()))
    if a["anon"]:
        dirty(region(a["anon"]), 0, a["anon"])
    if a["shmem"]:
        fd = os.memfd_create("oomlens-shmem")
        os.ftruncate(fd, a["shmem"])
        dirty(region(a["shmem"], fd, mmap.MAP_SHARED), 0, a["shmem"])
        os.close(fd)
    if a["file"]:
        path = os.path.join(a["file_dir"], ".oomlens-selftest-%d" % os.getpid())
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)
        os.ftruncate(fd, a["file"])
        m = region(a["file"], fd, mmap.MAP_SHARED)
        os.close(fd)
        buf = (ctypes.c_char * a["file"]).from_buffer(m)
        keep.append(buf)
        libc = ctypes.CDLL(None, use_errno=True)
        # mlock faults every page in (read faults: shared mapping) and keeps reclaim away from them
        if libc.mlock(ctypes.c_void_p(ctypes.addressof(buf)), ctypes.c_size_t(a["file"])):
            fail("mlock: " + os.strerror(ctypes.get_errno()))
    if a["ptes"]:
        R = 2 << 20
        m = region(a["ptes"] * R, prot=mmap.PROT_READ)
        for i in range(a["ptes"]):
            m[i * R]
    if a["threads"]:
        ev = threading.Event()
        for _ in range(a["threads"]):
            threading.Thread(target=ev.wait, daemon=True).start()
except OSError as e:
    fail(str(e))

def kills():
    # oom_kill of every cgroup in the sandbox: cgroup v1 counts a kill only in the victim's own memcg
    t = a["trigger"]
    total = 0
    for d, _, files in os.walk(t["root"]):
        if t["file"] in files:
            with open(os.path.join(d, t["file"])) as f:
                for line in f:
                    k, _, v = line.partition(" ")
                    if k == t["key"]:
                        total += int(v)
    return total

say("ready")
while True:
    c = os.read(0, 1)
    if not c:
        os._exit(0)
    if c == b"g" and a["trigger"]:
        t = a["trigger"]
        base = kills()
        m = region(t["max"])
        off, outcome = 0, "no-oom"
        while off < t["max"]:
            end = min(off + t["chunk"], t["max"])
            dirty(m, off, end)
            off = end
            if kills() != base:
                outcome = "killed"
                break
        say("%s %d" % (outcome, off))
