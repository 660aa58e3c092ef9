"""The kernel's rules for ``crashkernel=``: grammar, decision and placement, with no host and no I/O."""
