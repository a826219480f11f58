"""host-containers: makes each host container's systemd unit match ``settings.host-containers``.

Bottlerocket's ``host-containers`` (core-kit ``sources/api/host-containers``) is the restart
command of the ``host-containers`` service: thar-be-settings runs it at the boot and whenever a
setting it depends on changes. For each affected host container it writes the unit's
environment file and the container's user data, stops the container, and enables and starts
``host-containers@NAME.service`` (which runs host-ctr) or disables it. See README.md.
"""

from __future__ import annotations

from .errors import HostContainersError, ManageContainersFailed
from .manage import Commands, HostContainer, handle_host_container, is_container_affected, manage

__all__ = [
    "Commands",
    "HostContainer",
    "HostContainersError",
    "ManageContainersFailed",
    "handle_host_container",
    "is_container_affected",
    "manage",
]
