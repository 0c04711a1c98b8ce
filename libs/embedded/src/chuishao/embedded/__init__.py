"""Real nats-server and redis-server processes from PyPI wheels: no Docker needed."""

from chuishao.embedded.servers import NatsServer, RedisServer, ServerProcess, free_port

__all__ = ["NatsServer", "RedisServer", "ServerProcess", "free_port"]
