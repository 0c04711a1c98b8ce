"""Roads and public facilities on them: surface damage, street lights, manholes."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
