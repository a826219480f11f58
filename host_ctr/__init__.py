"""host-ctr: runs thar's host containers on their own containerd, driven through ``ctr``.

Bottlerocket's host-ctr (core-kit ``sources/host-ctr``) pulls a host container's image, creates the
container with Bottlerocket's mounts and privileges and keeps it in the foreground until it exits.
This package does the same with containerd's own ``ctr`` client; see README.md.
"""
