"""Background work on the state: devbox lifecycles, commands, snapshots and blueprint builds."""
