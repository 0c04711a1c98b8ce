"""The chuishao contract: events, commands, subjects, streams, settings, logging, clients."""
