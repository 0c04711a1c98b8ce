"""Life in the compound: property services, leaks, disputes between neighbours."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
