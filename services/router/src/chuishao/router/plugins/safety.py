"""Fire facilities, fire hazards and emergencies (应急哨)."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
