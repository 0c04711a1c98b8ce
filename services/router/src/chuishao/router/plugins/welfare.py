"""People in difficulty: unpaid wages, requests for assistance."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
