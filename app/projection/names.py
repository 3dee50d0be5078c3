"""Names shared by the realtime rows and the static node configuration that reads them."""

# Static contexts (rendered into extensions.conf) that each kind of endpoint enters.
CTX_FROM_CARRIER = "tl-from-carrier"
CTX_FROM_NODE = "tl-from-node"
CTX_FROM_TRUNK = "tl-from-trunk"

# Realtime contexts: key -> value lookups; every row is priority 1, app Return, appdata the value.
RT_NUMBER = "tl-num"  # exten +1NXXNXXXXXX -> carrier_id|account|client node endpoint|trunk endpoint|DID as the trunk wants it
RT_ROUTE = "tl-route"  # exten <carrier id> and p<N> (N-th by priority) -> "endpoint/cid fmt/dial fmt/svc form/codes"; "nodes" -> carrier nodes
RT_E911 = "tl-e911"  # exten <trunk id>*<E.164> or <trunk id>*default -> level|number|carrier endpoint|sent|fmt
REALTIME_CONTEXTS = (RT_NUMBER, RT_ROUTE, RT_E911)

SEP = "|"  # between fields of a value
LIST_SEP = "&"  # between items of a list field
FORMAT_CODES = {"e164": "e", "nanp11": "11", "nanp10": "10"}  # how the static dialplan spells a format
