"""Why a command was refused, in words a person can act on (Chinese first, then English).

Every refusal the lifecycle raises names a row of REFUSALS; the messages never name
internal classes or commands (those stay in the logs). A refusal raised with free text
(not a row here) keeps that text as its English message under a general Chinese one, so a
new refusal is never wordless — but it belongs in this table.
"""

# Where the ticket stands, as a sentence part: ("工单…", "This ticket …").
STATES: dict[str, tuple[str, str]] = {
    "submitted": ("已受理，正在派单", "is still being routed"),
    "manual_dispatch": (
        "正等待街道指挥中心人工派单",
        "is waiting for the street command centre to assign it",
    ),
    "dispatched": ("已派单，正等待承办单位报到", "is waiting for its units to report for duty"),
    "in_progress": ("正在处置", "is being handled"),
    "awaiting_resident": ("正等待居民配合", "is waiting for the resident"),
    "resolved": ("已办结，正等待评价", "has been resolved and is waiting for the rating"),
    "closed": ("已关闭", "is closed"),
    "linked": ("已合并到另一张工单", "has been joined to another ticket"),
}
# States after which nothing more happens to the ticket itself ("can no longer").
FINAL = frozenset({"closed", "linked"})

# What the command does, keyed by the command's name: ("…", "… can not be <passive>").
ACTIONS: dict[str, tuple[str, str]] = {
    "AcknowledgeTicket": ("报到签收", "acknowledged"),
    "DeclineTicket": ("退单", "returned"),
    "AddProgressNote": ("添加进展", "given a progress note"),
    "RequestExtension": ("申请延期", "given an extension request"),
    "DecideExtension": ("审批延期", "given an extension decision"),
    "TransferTicket": ("转办", "transferred"),
    "AwaitResident": ("转为等待居民配合", "put on hold for the resident"),
    "RecordResidentReply": ("记录居民答复", "given the resident's reply"),
    "ResolveTicket": ("办结", "signed off"),
    "RateTicket": ("评价", "rated"),
    "CloseTicket": ("关闭", "closed"),
    "RecategoriseTicket": ("重新分类", "recategorised"),
    "SplitReport": ("拆分", "split out"),
    "UrgeTicket": ("督办", "urged"),
    "RecordCallback": ("记录回访", "recorded as a callback"),
    "FileAppeal": ("申诉", "appealed"),
    "DecideAppeal": ("审核申诉", "given an appeal decision"),
}
SOME_ACTION = ("这样处理", "changed this way")

# The one table of refusals: reason → (message_zh, message_en), str.format'ed with the
# refusal's parameters.
REFUSALS: dict[str, tuple[str, str]] = {
    "not_in_state": (
        "工单{state_zh}，现在不能{action_zh}",
        "This ticket {state_en} and cannot be {action_en} now",
    ),
    "no_longer": (
        "工单{state_zh}，不能再{action_zh}",
        "This ticket {state_en} and can no longer be {action_en}",
    ),
    "version_conflict": (
        "工单刚被更新（现为第 {version} 版，您提交的是第 {expected} 版），请刷新后再操作",
        "This ticket changed meanwhile (it is at version {version}, you sent {expected});"
        " reload it and try again",
    ),
    "not_assigned": (
        "此工单没有派给您的单位，不能操作；如需协同请联系街道指挥中心",
        "This ticket was not sent to your unit, so you cannot act on it;"
        " ask the street command centre if you should join",
    ),
    "never_sent": (
        "此工单没有派给您的单位，无法查看",
        "This ticket was not sent to your unit, so you cannot read it",
    ),
    "rating_by_resident": (
        "只有报告人（或代其操作的 12345 话务员）可以评价工单",
        "Only the person who reported it (or a 12345 operator for them) can rate a ticket",
    ),
    "callback_by_operator": (
        "只有 12345 话务员可以记录回访结果",
        "Only a 12345 operator records a callback (回访)",
    ),
    "reply_by_resident": (
        "只有居民本人、12345 话务员或承办单位可以记录居民的答复",
        "Only the resident, a 12345 operator or a unit handling the ticket can record"
        " the resident's reply",
    ),
    "needs_supervisor": (
        "{action_zh}需要街道或区级指挥中心的账号",
        "A ticket can be {action_en} only by a street or district command centre",
    ),
    "split_by_lead_unit": (
        "只有主工单的承办单位或指挥中心可以把报告拆分出来",
        "Only a unit handling the lead ticket or a command centre can split a report out",
    ),
    "other_ticket_link": (
        "这个链接只能打开它所属的那张工单，请使用短信里对应的链接",
        "This link opens only the ticket it was sent for; use the link from that ticket's SMS",
    ),
    "already_acknowledged": (
        "您的单位已经报到签收过此工单，无需重复签收",
        "Your unit has already reported for duty on this ticket",
    ),
    "already_signed_off": (
        "您的单位已经办结签字，不能再退单或重复办结",
        "Your unit has already signed this ticket off; it cannot return or sign it off again",
    ),
    "extension_pending": (
        "您的单位已有一条延期申请等待审批，请等审批结果",
        "Your unit already has an extension request waiting for a decision",
    ),
    "no_extension_pending": (
        "{unit} 没有等待审批的延期申请",
        "{unit} has no extension request waiting for a decision",
    ),
    "not_urgeable": (
        "{unit} 没有正在承办、尚未办结的部分，不能督办",
        "{unit} has no part of this ticket still to finish, so it cannot be urged",
    ),
    "already_holds": (
        "{unit} 已在承办此工单，请转给其他单位",
        "{unit} already handles this ticket; transfer it to another unit",
    ),
    "window_close_needs_resolved": (
        "只有已办结的工单才会因评价期满而关闭",
        "Only a resolved ticket closes because its rating window has passed",
    ),
    "not_linked": (
        "此报告没有合并到其他工单，无需拆分",
        "This report is not joined to another ticket, so there is nothing to split",
    ),
    "unknown_ticket": (
        "没有编号为 {ticket_id} 的工单，请核对编号",
        "There is no ticket {ticket_id}; check the number",
    ),
    "appeal_by_unit": (
        "只有曾承办此工单的单位可以申诉",
        "Only a unit this ticket was sent to can appeal",
    ),
    "appeal_by_district": (
        "申诉只能由区级或市级账号审核",
        "Only a district or city account decides an appeal",
    ),
    "appeal_pending": (
        "您的单位对此事项已有一条申诉等待审核，请等审核结果",
        "Your unit already has an appeal about this waiting for a decision",
    ),
    "appeal_settled": (
        "您的单位对此事项的申诉已经支持，无需再申诉",
        "Your unit's appeal about this was already upheld",
    ),
    "nothing_to_appeal_rating": (
        "此工单没有涉及您单位的不满意评价，无需申诉",
        "No unsatisfied rating of this ticket names your unit; there is nothing to appeal",
    ),
    "nothing_to_appeal_breach": (
        "此工单没有您单位的超期记录，无需申诉",
        "Your unit missed no deadline on this ticket; there is nothing to appeal",
    ),
    "nothing_to_appeal_decline": (
        "您的单位没有退回过此工单，无需申诉",
        "Your unit never returned this ticket; there is nothing to appeal",
    ),
    "no_such_appeal": (
        "此工单没有编号为 {appeal} 的申诉",
        "This ticket has no appeal {appeal}",
    ),
    "appeal_decided": (
        "申诉 {appeal} 已经审核过，不能再次审核",
        "Appeal {appeal} has already been decided",
    ),
    "own_appeal": (
        "不能审核本单位自己的申诉",
        "An appeal cannot be decided by the unit that filed it",
    ),
    "unsupported": ("不支持这项操作", "This action is not supported"),
}

# A refusal raised with free text: a general Chinese message by its code.
GENERAL_ZH: dict[str, str] = {
    "illegal_transition": "工单当前的状态不允许这项操作",
    "version_conflict": "工单刚被更新，请刷新后再操作",
    "forbidden": "您无权对此工单执行这项操作",
    "not_found": "找不到这张工单，请核对编号",
}


# The longest value a message repeats back: a ticket id is 15 characters, a unit id
# a few dozen; a longer value is cut (a 20,000-character path must not come back whole).
ECHO_LIMIT = 40


def echo(value: object) -> str:
    """A caller's value as a message may repeat it: printable characters only (no NUL,
    control or bidi characters), at most ECHO_LIMIT of them."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value)[: ECHO_LIMIT + 1])
    return text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}…"


def explain(reason: str, code: str, params: dict[str, str]) -> tuple[str, str]:
    """(message_zh, message_en) for a refusal. Every parameter is echoed safely: some
    (the ticket id of a 404) are whatever the caller put in the path."""
    params = {name: echo(value) for name, value in params.items()}
    if reason in ("not_in_state", "no_longer") or "state" in params:
        state = params.get("state", "")
        state_zh, state_en = STATES.get(state, (f"处于 {state} 状态", f"is {state}"))
        action_zh, action_en = ACTIONS.get(params.get("command", ""), SOME_ACTION)
        params = {
            **params,
            "state_zh": state_zh,
            "state_en": state_en,
            "action_zh": action_zh,
            "action_en": action_en,
        }
        if reason == "not_in_state" and state in FINAL:
            reason = "no_longer"
    elif "command" in params:
        action_zh, action_en = ACTIONS.get(params["command"], SOME_ACTION)
        params = {**params, "action_zh": action_zh, "action_en": action_en}
    if reason in REFUSALS:
        zh, en = REFUSALS[reason]
        return zh.format(**params), en.format(**params)
    return GENERAL_ZH.get(code, "这项操作未被接受"), reason
