"""Kernel-oracle scenarios in throwaway virtme-ng guests (Debian's 6.1 and 6.12 kernels, cgroup v2)."""
