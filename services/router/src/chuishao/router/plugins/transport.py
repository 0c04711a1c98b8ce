"""Transport (交通运输): buses, taxis and ride-hailing, traffic signals and signs."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
