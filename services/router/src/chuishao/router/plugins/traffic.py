"""Traffic: roads blocked (协同哨 with co-building units), illegal parking."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
