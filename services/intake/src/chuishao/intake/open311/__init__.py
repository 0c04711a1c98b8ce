"""Open311 GeoReport v2 under /open311/v2/, so existing 311 clients work unchanged.

Both .json and .xml; errors are a list of {code, description} with 400 / 403 / 404;
an empty parameter counts as absent. Also the mySociety `servicerequestupdates` extension.

Reads need no key and are public (docs/intake.md, "What is public"): status, category,
the responsible unit, the times, a location rounded to about 100 m, sign-offs and notes a
unit marked public. Never the resident's words, address, photos or contact, and never a
unit's internal notes. Lists are capped (MAX_IDS, MAX_RESULTS).

    rendering  the two formats, the error list, the format check (one dependency)
    forms      what a client sends: form fields, attributes, dates
    rows       what a client reads: a service, a definition, a public request row
    media      a photo sent as multipart `media` with a new request (the photo store)
    routes     the seven routes
"""

from chuishao.intake.open311.routes import MAX_IDS, MAX_RESULTS, router
from chuishao.intake.open311.rows import COARSE_DIGITS

__all__ = ["COARSE_DIGITS", "MAX_IDS", "MAX_RESULTS", "router"]
