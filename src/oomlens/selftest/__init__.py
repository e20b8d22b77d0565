"""``oomlens selftest``: provoke real OOM kills in a throwaway memory cgroup and compare the
kernel's victim with the model's. Root-only; never touches the global OOM domain.
"""
