from chuishao.common.settings import ServiceSettings


class StackSettings(ServiceSettings):
    nats_port: int = 4222
    nats_monitor_port: int = 8222
    redis_port: int = 6379
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # "always" fsyncs every write (the production setting); "2m" is NATS's default.
    nats_sync_interval: str = "always"
