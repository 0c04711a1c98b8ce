"""Markets and consumers (市场监管): consumer rights and food safety."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
