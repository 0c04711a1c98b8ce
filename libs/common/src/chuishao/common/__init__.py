"""The chuishao contract and the parts every service shares.

Import the modules below by name (`from chuishao.common import subjects`,
`from chuishao.common.events import TicketSubmitted`); they are the public API, one
concern each (docs/architecture.md, "One place for each concern"). `compat` and
`transient` are internal to this library.

The contract:  events, commands, queries, domain, subjects, streams, errors, contract
Running:       runtime, loops, broker, batches (consumers a batch at a time), delivery,
               replies, clients, settings, logging, metrics, clock, publishing, outbox,
               stream_reader, handled, kv, packing (records packed for Redis)
Read models:   catalogue, units, places (the buckets), categories, unit_contacts,
               place_names (their types, no NATS: the domain cores name these), status
Residents:     privacy, tokens, ids, photos (the photo store)
People:        roles, person_tokens (the console acting at intake as a person), presence
Screens and files: labels (Chinese names of statuses and channels), svgmap (the offline
               district map as SVG), tabular (CSV with BOM and streamed Excel)
"""

__all__ = [
    "batches",
    "broker",
    "catalogue",
    "categories",
    "clients",
    "clock",
    "commands",
    "contract",
    "delivery",
    "domain",
    "errors",
    "events",
    "handled",
    "ids",
    "kv",
    "labels",
    "logging",
    "loops",
    "metrics",
    "outbox",
    "packing",
    "person_tokens",
    "photos",
    "place_names",
    "places",
    "presence",
    "privacy",
    "publishing",
    "queries",
    "replies",
    "roles",
    "runtime",
    "settings",
    "status",
    "stream_reader",
    "streams",
    "subjects",
    "svgmap",
    "tabular",
    "tokens",
    "unit_contacts",
    "units",
]
