"""Confinement of a student's kernel: the sandbox (files, network, users), limits on the whole
kernel (cgroups) and the kernel's own time (`kernelclock`), which time limits count."""
