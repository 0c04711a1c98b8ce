"""Public services people ask about (咨询类): schools, medical care, social insurance,
household registration. Mostly enquiries, answered in working days (sla policies)."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
