"""bootstrap-containers and bootstrap-commands: what runs at boot before the host is configured.

``bootstrap-containers create-containers`` (settings-applier's restart command of the
``bootstrap-containers`` service) prepares a ``bootstrap-containers@NAME.service`` instance per
``settings.bootstrap-containers`` entry, which runs the container through host-ctr
(``--container-type bootstrap``) before ``configured.target``; ``mark-bootstrap`` turns a
``once`` container off after it ran. ``bootstrap-commands`` (``bootstrap-commands.service``,
before ``preconfigured.target``) runs the apiclient commands of ``settings.bootstrap-commands``
in name order. Bottlerocket's core-kit ``sources/api/bootstrap-containers`` and
``sources/bootstrap-commands``; see README.md. The modules: ``config`` (the rendered files),
``containers`` (create-containers, mark-bootstrap), ``commands`` (bootstrap-commands),
``programs`` (systemctl and host-ctr), ``cli``, ``errors``.
"""

from __future__ import annotations

__all__: list[str] = []
