"""The catalogues: what consents and additional options a customer can have, and each customer's choices
among them: checked against the catalogues, stored, and shown in the customer document (DOCUMENT_PARTS)."""

from __future__ import annotations

from collections import Counter

from flask import g, has_request_context
from psycopg import Connection

from .. import personal_data
from ..audit import service as audit
from ..errors import BadRequest
from ..fields import LIST_ITEMS
from . import store

# Members of the customer document (customers/document.py), over the customer's row `c`.
DOCUMENT_PARTS = {"consents": store.Q.customer_consents, "additional_options": store.Q.customer_additional_options}
# The customer's choices in the customers file (customers/transfer.py): `consents`, `option_values`.
EXPORT_PARTS = store.Q.export_choices


def consents(conn: Connection) -> list[dict]:
    return store.list_consents(conn)


def additional_options(conn: Connection) -> list[dict]:
    return store.list_sections(conn)


def replace_consents(conn: Connection, consents: list[dict]) -> list[dict]:
    _at_most("consents", consents)
    _unique("consent_id", [c["consent_id"] for c in consents])
    store.replace_consents(conn, consents)
    return store.list_consents(conn)


def replace_additional_options(conn: Connection, sections: list[dict]) -> list[dict]:
    _at_most("sections", sections)
    _unique("options.id", [o["id"] for s in sections for o in s["options"]])
    store.replace_sections(conn, sections)
    return store.list_sections(conn)


def _at_most(field: str, items: list) -> None:
    """A catalogue is a list of at most LIST_ITEMS entries (the body is the list, which no schema bounds)."""
    if len(items) > LIST_ITEMS:
        raise BadRequest(f"{field}: At most {LIST_ITEMS} entries.")


def _unique(field: str, ids: list[str], quote: bool = True) -> None:
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise BadRequest(f"{field}: {', '.join(repeated) if quote else 'an id is'} given more than once.")


def check_choices(conn: Connection, consent_ids: list[str] | None, option_values: list[dict] | None,
                  *, creating: bool) -> None:
    """Refuse consents and option values the catalogues do not offer (400, naming the field).

    `None` means "not given" (a PUT that leaves the field as it is): nothing to check. Required options must
    be present when a customer is created, and whenever the option values are given.
    """
    if consent_ids is None and option_values is None and not creating:
        return
    check_offered(offered(conn), consent_ids, option_values, creating=creating)


def offered(conn: Connection) -> dict:
    """What a customer may choose: `consent_ids`, and `options` by id (type, required, enum_ids)."""
    return store.choices(conn)


def check_offered(offered: dict, consent_ids: list[str] | None, option_values: list[dict] | None,
                  *, creating: bool, quote: bool = True) -> None:
    """check_choices against catalogues read once (`offered`), for an import's rows; `quote=False`: the
    errors do not repeat the ids refused (an import's report names no value of its file)."""
    if consent_ids:
        _unique("consents", consent_ids, quote)
        unknown = [c for c in consent_ids if c not in offered["consent_ids"]]
        if unknown:
            raise BadRequest(f"consents: unknown consent id {', '.join(unknown)}." if quote
                             else "consents: a consent id the catalogue does not offer.")
    options = offered["options"]
    if option_values is None and creating:
        option_values = []
    if option_values is None:
        return
    _unique("additional_options", [v["id"] for v in option_values])
    for index, value in enumerate(option_values):
        _check_option_value(f"additional_options[{index}]", value, options.get(value["id"]), quote)
    given = {v["id"] for v in option_values if v.get("enum_values") or v.get("text")}
    missing = sorted(option_id for option_id, o in options.items() if o["required"] and option_id not in given)
    if missing:
        raise BadRequest(f"additional_options: required option {', '.join(missing)} has no value.")


def set_choices(conn: Connection, customer_id, consent_ids: list[str] | None,
                option_values: list[dict] | None) -> None:
    """Store the customer's consents and option values; `None` leaves that list as it is. Check them first
    (check_choices)."""
    if consent_ids is not None:
        store.set_consents(conn, customer_id, consent_ids, _trace())
    if option_values is not None:
        store.set_option_values(conn, customer_id, option_values)


def import_choices(conn: Connection, *, consents: bool, option_ids: list[str], updates: bool) -> None:
    """The choices of a batch of an import's customers, set-based from its staging table
    (customers/transfer.py), checked row by row before: their consents when the file has that column (each
    grant and withdrawal in the consent history, as credential `import`), and their values of the options
    the file has columns for. `updates`: the batch updates customers (whose choices are replaced)."""
    if consents:
        store.import_consents(conn, updates)
    if option_ids:
        store.import_option_values(conn, option_ids, updates)


def _trace() -> dict:
    """Who and where a change of consents comes from: the request's Store-ID, Staff-ID, Register-ID and
    credential; nothing outside a request (an import, the demo)."""
    if not has_request_context():
        return {"store_id": None, "staff_id": None, "register_id": None, "credential": None}
    return {**audit.trace(), "credential": g.get("credential")}


def _check_option_value(field: str, value: dict, option: dict | None, quote: bool = True) -> None:
    if option is None:
        raise BadRequest(f"{field}.id: unknown additional option {value['id']}.")
    enum_values = value.get("enum_values") or []
    if option["type"] == "text":
        if enum_values:
            raise BadRequest(f"{field}.enum_values: option {value['id']} is a text option.")
        return
    if value.get("text") is not None:
        raise BadRequest(f"{field}.text: option {value['id']} is an {option['type']} option.")
    if len(set(enum_values)) != len(enum_values):
        raise BadRequest(f"{field}.enum_values: a value is given more than once.")
    not_offered = [e for e in enum_values if e not in option["enum_ids"]]
    if not_offered:
        raise BadRequest(f"{field}.enum_values: {', '.join(not_offered) if quote else 'a value'} is not offered by "
                         f"option {value['id']}.")
    if option["type"] == "enum-single" and len(enum_values) > 1:
        raise BadRequest(f"{field}.enum_values: option {value['id']} takes one value (enum-single).")

# A merge moves the duplicate's consents (each gained one a grant in the history) and option values.
personal_data.register("additional_options", export=store.personal_data, erase=store.erase_free_text,
                       merge=store.merge)

personal_data.register("consent_history", export=store.consent_history)  # kept at an erasure: the proof
