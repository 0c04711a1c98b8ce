from chuishao.common.settings import ServiceSettings


class SlaSettings(ServiceSettings):
    # "一般性问题都会在48小时内解决": the general resolution limit at community level.
    resolution_hours: float = 48.0
