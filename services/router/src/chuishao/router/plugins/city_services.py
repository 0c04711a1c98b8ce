"""City appearance and public spaces (市容环境): sanitation, toilets, trees, stray animals,
vendors, signs, illegal structures."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
