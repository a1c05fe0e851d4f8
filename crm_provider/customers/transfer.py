"""The customers file: `crm-provider customers import` and `customers export` (docs/data-lifecycle.md).

A UTF-8 CSV file with a header row. Its columns are the contract's Customer fields (nested ones dotted:
`invoice_address.city`; lists separated by `|`), `customer_id` (a UUID is kept as the id; any other value is
kept as an alias that `GET /customers/{id}` and the events area resolve), `aliases`, `created`, the back
office's `status.color`, `status.text`, `voucher_passwords` and `store_id_home`, `option:<id>` for each
additional option, and the columns other areas register (customer_columns.py: the program's
`bonus_points`). An empty cell is an empty field. Every column is optional; one that is not a known one is
refused before any row is read.

The import reads the file once, in batches: each row is checked by the rules of a POST (the schema, the
normalisation of keys.py, the catalogues) and of the back office and its personal id sealed, by worker
processes; this one copies the batch into a staging table, refuses by one statement what needs the batch
and the database together (a key an earlier row or another customer holds), and writes the batch
set-based while the workers check the next ones. A row whose member number (or id, or alias) is a
customer's updates that customer: the file's columns replace the stored values, the others stay. The whole
file is one transaction: a file with any bad row changes nothing unless `skip_invalid`. Rejected rows are
reported by line number and reason, never by their values.

The export writes every live customer in the same columns, so that an export imported into an empty
database (with the same catalogues) exports the same file again.
"""

from __future__ import annotations

import csv
import itertools
import json
import multiprocessing
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from marshmallow import ValidationError
from psycopg import Connection

from .. import customer_columns, keys, personal_ids, plugins, sql
from ..api import describe
from ..catalog import service as catalog
from ..errors import BadRequest
from . import service
from .schemas import KEY_MAX_LENGTH, AddressSchema, BackOfficeSchema, CustomerSchema

Q = sql.load(__file__, "transfer.sql")

SEPARATOR = "|"
OPTION = "option:"
BATCH_ROWS = 5000
ADDRESS_PARTS = tuple(AddressSchema().fields)
ADDRESSES = ("invoice_address", "delivery_address")
TEXT_FIELDS = ("member_number", "email", "name_first", "name_last", "personal_id", "company", "company_id", "phone",
               "mobile", "gender", "birthday", "store_id_home")
LISTS = ("accepts_communication", "consents", "voucher_passwords", "aliases")
# The columns in the export's order (then an `option:<id>` per additional option, then the registered ones).
COLUMNS = ("customer_id", "aliases", "member_number", "created", "email", "name_first", "name_last",
           "personal_id", "company", "company_id", "phone", "mobile",
           *(f"{address}.{part}" for address in ADDRESSES for part in ADDRESS_PARTS),
           "gender", "birthday", "accepts_communication", "consents", "status.color", "status.text",
           "voucher_passwords", "store_id_home")
_CUSTOMER, _BACK_OFFICE = CustomerSchema(), BackOfficeSchema()


class Rejected(ValueError):
    """A row that cannot be imported; the reason names fields, never values."""


class Refused(Exception):
    """The import wrote nothing: `result` says why (rows rejected, without `skip_invalid`)."""

    def __init__(self, result: ImportResult):
        super().__init__("the file has rows that cannot be imported: nothing was imported")
        self.result = result


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    reasons: list[dict] = field(default_factory=list)  # {reason, rows, lines: the first few line numbers}
    dry_run: bool = False

    def report(self) -> list[str]:
        verb = "would import" if self.dry_run else "imported"
        lines = [f"{self.rows} rows: {verb} {self.created + self.updated} ({self.created} new, {self.updated} "
                 f"updated), rejected {self.rejected}"]
        for reason in self.reasons:
            more = ", ..." if reason["rows"] > len(reason["lines"]) else ""
            lines.append(f"  {reason['rows']} rejected: {reason['reason']} "
                         f"(lines {', '.join(map(str, reason['lines']))}{more})")
        return lines


@dataclass(frozen=True)
class Header:
    """A file's columns: where each is, and what the file gives (an update changes only that)."""
    index: dict[str, int]
    options: dict[str, dict]  # option id -> its catalogue entry
    extra: tuple[customer_columns.Column, ...]

    @classmethod
    def check(cls, names: list[str] | None, offered: dict) -> Header:
        """Refuse a header with a column this importer does not know (a typo would drop a field silently)."""
        if not names:
            raise ValueError("the file has no header row")
        registered = {column.name: column for column in customer_columns.columns()}
        unknown = [name for name in names if name not in COLUMNS and name not in registered
                   and not (name.startswith(OPTION) and name[len(OPTION):] in offered["options"])]
        if unknown:
            raise ValueError(f"unknown columns {', '.join(map(repr, unknown))}; the columns are: "
                             f"{', '.join(COLUMNS)}, option:<id of an additional option>, "
                             f"{', '.join(registered)}")
        twice = sorted(name for name, n in Counter(names).items() if n > 1)
        if twice:
            raise ValueError(f"columns given twice: {', '.join(twice)}")
        return cls(index={name: i for i, name in enumerate(names)},
                   options={name[len(OPTION):]: offered["options"][name[len(OPTION):]]
                            for name in names if name.startswith(OPTION)},
                   extra=tuple(registered[name] for name in names if name in registered))

    def given(self) -> list[str]:
        """The customer fields the file sets (an update replaces these and keeps the others)."""
        fields = [name for name in (*TEXT_FIELDS, *LISTS) if name in self.index]
        fields += [address for address in ADDRESSES if any(c.startswith(address + ".") for c in self.index)]
        return fields + (["status"] if "status.color" in self.index or "status.text" in self.index else [])


# --- import ----------------------------------------------------------------------------------------------------

def import_file(conn: Connection, text: Iterable[str], region: str, *, member_number_digits: int | None,
                skip_invalid: bool = False, update: bool = True, dry_run: bool = False, workers: int = 1,
                batch_rows: int = BATCH_ROWS, on_rows=None, report=None) -> ImportResult:
    """Import the CSV `text` (lines) in the caller's transaction. When rows are rejected and not
    `skip_invalid` nothing stays written and Refused is raised; with `dry_run` everything is done and undone.
    `workers` > 1: the rows are checked by that many processes while this one writes. `on_rows(n)` after
    each batch (a progress bar); `report(rows)` is given every rejected row's (line, reason), in line order."""
    reader = csv.reader(text)
    offered = catalog.offered(conn)
    header = Header.check(next(reader, None), offered)
    try:
        with conn.transaction():  # a savepoint: a refused file or a dry run leaves the caller's as it was
            result = _import(conn, reader, header, offered, region, member_number_digits, update, workers,
                             batch_rows, on_rows)
            result.dry_run = dry_run
            if report is not None:
                report((row["line"], row["reason"]) for row in conn.execute(Q.rejects))
            if result.rejected and not skip_invalid:
                raise Refused(result)
            if dry_run:
                raise _Undone(result)
    except _Undone as undone:
        return undone.result
    return result


class _Undone(Exception):
    def __init__(self, result: ImportResult):
        self.result = result


def _import(conn: Connection, reader, header: Header, offered: dict, region: str, digits: int | None, update: bool,
            workers: int, batch_rows: int, on_rows) -> ImportResult:
    """Each batch checked, staged and written before the next: what the database must refuse (a key another
    row or customer holds) is found against the customers as the earlier batches left them, so that a
    batch's writes run while the next batches are being checked."""
    conn.execute(Q.create_staging)
    result, analyzed = ImportResult(), 0
    keyring = personal_ids.active()
    for checked in _checked(_batches(reader, batch_rows), workers, header, region, offered, keyring, digits):
        if result.rows >= 2 * analyzed + batch_rows:  # the tables have doubled since the planner last looked
            conn.execute(Q.analyze_written)
            analyzed = result.rows
        _stage(conn, checked, keyring, update)
        _number(conn, digits)
        conn.execute(Q.reject_conflicts)
        counts = conn.execute(Q.staged_counts).fetchone()
        result.created, result.updated = result.created + counts["created"], result.updated + counts["updated"]
        _write(conn, header, counts["created"], counts["updated"])
        result.rows += len(checked)
        on_rows and on_rows(len(checked))
    _count_rejects(conn, result)
    return result


def _write(conn: Connection, header: Header, created: int, updated: int) -> None:
    """The staged batch written set-based: the customers, their choices, aliases and the registered columns;
    the customer hooks' events; then the batch's customers are the earlier rows' for the next ones."""
    if created:
        conn.execute(Q.insert_customers)
    if updated:
        conn.execute(Q.update_customers, {"given": header.given()})
    catalog.import_choices(conn, consents="consents" in header.index, option_ids=list(header.options),
                           updates=updated > 0)
    conn.execute(Q.insert_aliases)
    for column in header.extra:
        column.load(conn)
    if plugins.active().customer_hooks and created + updated:
        conn.execute(Q.record_events, {"queue": service.HOOK_QUEUE, "task": service.HOOK_TASK})
    conn.execute(Q.batch_done)
    conn.execute(Q.next_batch)


def _batches(reader, size: int) -> Iterator[list[tuple[int, list[str]]]]:
    batch = []
    for cells in reader:
        batch.append((reader.line_num, cells))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _checked(batches: Iterator[list], workers: int, *args) -> Iterator[list]:
    """Each batch's rows checked (`_check(*args, batch)`), in the file's order; by `workers` processes
    (spawned: they share nothing with this one) with at most two batches each in flight, so that memory
    stays flat."""
    first = list(itertools.islice(batches, 2))
    batches = itertools.chain(first, batches)
    if workers <= 1 or len(first) < 2:  # one batch: starting processes would cost more than they save
        yield from (_check(*args, batch) for batch in batches)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append(pool.submit(_check, *args, batch))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _check(header: Header, region: str, offered: dict, keyring, digits: int | None,
           batch: list[tuple[int, list[str]]]) -> list[tuple[int, tuple | str]]:
    """(line, (its staging row as a new customer, what `_resolve` needs)) for a good row, (line, the reason)
    for a bad one."""
    checked = []
    for line, cells in batch:
        try:
            checked.append((line, _as_new(line, _parse(header, cells, region), offered, keyring, digits)))
        except Rejected as rejected:
            checked.append((line, str(rejected)))
    return checked


def _count_rejects(conn: Connection, result: ImportResult) -> None:
    for row in conn.execute(Q.reject_counts):
        result.reasons.append(dict(row))
        result.rejected += row["rows"]


def _stage(conn: Connection, checked: list[tuple[int, tuple | str]], keyring, update: bool) -> None:
    """Copy a batch's good rows into the staging table, made updates of the customers they name, and the
    others' reasons beside it."""
    good = [(line, *result) for line, result in checked if not isinstance(result, str)]
    rejects = [(line, result) for line, result in checked if isinstance(result, str)]
    targets = _targets(conn, [found for _, _, found in good])
    rows = []
    for line, row, found in good:
        try:
            rows.append("\t".join(_resolve(row, found, targets, keyring, update)))
        except Rejected as rejected:
            rejects.append((line, str(rejected)))
    with conn.cursor().copy(Q.copy_staging) as copy:
        if rows:
            copy.write("\n".join(rows) + "\n")
    if rejects:
        with conn.cursor().copy(Q.copy_rejects) as copy:
            for reject in rejects:
                copy.write_row(reject)


def _cell(header: Header, cells: list[str], name: str) -> str | None:
    i = header.index.get(name)
    return cells[i] or None if i is not None else None


def _parse(header: Header, cells: list[str], region: str) -> dict:
    """A row as a POST's body and the back office's fields, checked as those are; and its other columns."""
    if len(cells) != len(header.index):
        raise Rejected(f"{len(cells)} cells, and the header has {len(header.index)} columns")
    index = header.index
    body: dict = {name: _cell(header, cells, name) for name in TEXT_FIELDS if name in index}
    for address in ADDRESSES:
        parts = {part: cells[i] for part in ADDRESS_PARTS if (i := index.get(f"{address}.{part}")) is not None
                 and cells[i]}
        if parts or any(c.startswith(address + ".") for c in index):
            body[address] = parts or None
    for name in ("accepts_communication", "consents"):
        if name in index:
            body[name] = _list(cells[index[name]])
    if header.options:
        body["additional_options"] = [
            {"id": option_id, **({"text": cell} if option["type"] == "text" else {"enum_values": _list(cell)})}
            for option_id, option in header.options.items() if (cell := cells[index[OPTION + option_id]])]
    try:  # an empty cell is a field absent from the POST (every optional field may be null)
        customer = _CUSTOMER.load({name: value for name, value in body.items() if value is not None})
        back_office = _back_office(header, cells)
        back_office = _BACK_OFFICE.load(back_office) if back_office else back_office
    except ValidationError as error:
        raise Rejected("; ".join(describe(error.messages))) from None
    try:
        profile = service.normalised({name: customer.get(name) for name in service.PROFILE_FIELDS}, region)
    except BadRequest as error:
        raise Rejected(error.text) from None
    record = {"profile": profile, "customer": customer, "back_office": back_office,
              "created": _created(_cell(header, cells, "created")),
              "aliases": _list(_cell(header, cells, "aliases") or ""), "given_id": None, "alias_id": None,
              "clears_member_number": "member_number" in index and not profile["member_number"], "extra": {}}
    given_id = _cell(header, cells, "customer_id")
    if given_id:
        try:
            record["given_id"] = uuid.UUID(given_id)
        except ValueError:
            record["alias_id"] = given_id
            record["aliases"].append(given_id)
    if any(len(alias) > KEY_MAX_LENGTH for alias in record["aliases"]):
        raise Rejected(f"aliases: Longer than {KEY_MAX_LENGTH} characters.")
    for column in header.extra:
        cell = cells[index[column.name]]
        if cell:
            try:
                record["extra"][column.name] = column.parse(cell)
            except ValueError as error:
                raise Rejected(f"{column.name}: {error}") from None
    return record


def _list(cell: str | None) -> list[str]:
    return cell.split(SEPARATOR) if cell else []


def _back_office(header: Header, cells: list[str]) -> dict:
    fields = {}
    if "status.color" in header.index or "status.text" in header.index:
        color, text = _cell(header, cells, "status.color"), _cell(header, cells, "status.text")
        fields["status"] = {"color": color, "text": text} if color or text else None
    if "voucher_passwords" in header.index:
        fields["voucher_passwords"] = _list(cells[header.index["voucher_passwords"]])
    return fields


def _created(cell: str | None) -> datetime | None:
    if cell is None:
        return None
    try:
        created = datetime.fromisoformat(cell)
    except ValueError:
        raise Rejected("created: Not a valid date and time (ISO 8601).") from None
    return created if created.tzinfo else created.replace(tzinfo=timezone.utc)


def _targets(conn: Connection, records: list[dict]) -> dict[tuple[str, str], dict]:
    """The customers a batch's member numbers, ids and aliases name."""
    rows = conn.execute(Q.targets, {
        "member_numbers": [r["member_number"] for r in records if r["member_number"]],
        "ids": [r["given_id"] for r in records if r["given_id"]],
        "aliases": [r["alias_id"] for r in records if r["alias_id"]],
    })
    return {(row["by"], row["key"]): row for row in rows}


def _as_new(line: int, record: dict, offered: dict, keyring, digits: int | None) -> tuple[list, dict]:
    """The staging row of a checked record as a new customer (its id given or new, its member number given
    or drawn, its personal id sealed for that id), its choices checked against the catalogues; and what
    `_resolve` needs to make it the update of a customer the database has."""
    profile, customer, back_office = record["profile"], record["customer"], record["back_office"]
    consents, options = customer.get("consents"), customer.get("additional_options")
    try:
        catalog.check_offered(offered, consents, options, creating=False, quote=False)
    except BadRequest as error:
        raise Rejected(error.text) from None
    new_rejected = None
    if options is None:  # a new customer needs the required options, an update keeps its values
        try:
            catalog.check_offered(offered, consents, options, creating=True, quote=False)
        except BadRequest as error:
            new_rejected = error.text
    customer_id = record["given_id"] or uuid.uuid4()
    generated = not profile["member_number"] and digits is not None
    sealed = {"personal_id_key": None, "personal_id_sealed": None, "personal_id_index": None}
    if keyring is not None and profile["personal_id"]:
        sealed = service.seal(keyring, customer_id, profile["personal_id"], profile["personal_id_norm"])
    sealed_profile = {**profile, **sealed}
    status = back_office.get("status")
    row = [line, customer_id, False, generated,
           keys.random_member_numbers(digits, 1)[0] if generated else profile["member_number"],
           *(sealed_profile[name] for name in _PROFILE_COLUMNS),
           _json(profile["invoice_address"]), _json(profile["delivery_address"]), profile["gender"],
           profile["birthday"], profile["accepts_communication"], consents, _json(options),
           status and status["color"], status and status["text"], back_office.get("voucher_passwords"),
           customer.get("store_id_home"), record["created"], record["aliases"], json.dumps(record["extra"]),
           profile["personal_id_norm"]]
    return [_copy_field(value) for value in row], {"member_number": profile["member_number"], "given_id": record["given_id"],
                 "alias_id": record["alias_id"], "clears_member_number": record["clears_member_number"],
                 "new_rejected": new_rejected, "personal_id": profile["personal_id"],
                 "personal_id_norm": profile["personal_id_norm"]}


# The staging row's members from the profile, in copy_staging's order after the member number.
_PROFILE_COLUMNS = ("email", "email_norm", "name_first", "name_last", "personal_id", "personal_id_norm",
                    "personal_id_key", "personal_id_sealed", "personal_id_index", "company", "company_id",
                    "company_id_norm", "phone", "mobile")
_ID, _EXISTING, _GENERATED, _NUMBER, _SEALED = 1, 2, 3, 4, 5 + _PROFILE_COLUMNS.index("personal_id_key")


def _resolve(row: list, found: dict, targets: dict, keyring, update: bool) -> list:
    """The staging row made the update of the customer its id or alias, else its member number, names."""
    by_id = (targets.get(("customer_id", str(found["given_id"]))) if found["given_id"]
             else targets.get(("alias", found["alias_id"])) if found["alias_id"] else None)
    if by_id is not None and by_id["erased"]:
        raise Rejected("customer_id: this customer was erased, and an erasure holds against a re-import")
    target = by_id or (targets.get(("member_number", found["member_number"])) if found["member_number"] else None)
    if target is None:
        if found["new_rejected"]:
            raise Rejected(found["new_rejected"])
        return row
    if target["touched"]:
        raise Rejected("customer_id: an earlier row of the file has this id" if target is by_id
                       else "member_number: an earlier row of the file has this member number")
    if not update:
        raise Rejected("member_number: a customer has this member number or id (and --no-update)")
    if found["clears_member_number"]:
        raise Rejected("member_number: A customer always has a member number; it cannot be cleared.")
    customer_id = target["customer_id"]
    row[_ID:_NUMBER + 1] = map(_copy_field, (customer_id, True, False, found["member_number"]))
    if keyring is not None and found["personal_id"]:
        sealed = service.seal(keyring, customer_id, found["personal_id"], found["personal_id_norm"])
        row[_SEALED:_SEALED + 3] = map(_copy_field, (sealed["personal_id_key"], sealed["personal_id_sealed"],
                                                     sealed["personal_id_index"]))
    return row


def _json(value) -> str | None:
    return None if value is None else json.dumps(value)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value) -> str:
    """A staging row's value in COPY's text format, made by the process that checked the row (text, uuid,
    integer, boolean, date, timestamptz, bytea, text[], and JSON text for jsonb)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, list):  # an array literal, each element quoted
        value = "{" + ",".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in value) + "}"
    elif isinstance(value, date):  # and datetime
        value = value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _number(conn: Connection, digits: int | None) -> None:
    """Member numbers for the new rows without one: the sequence's, or random ones (drawn again where one
    is taken, by a customer or another row)."""
    if digits is None:
        conn.execute(Q.number_from_sequence)
    while taken := [row["line"] for row in conn.execute(Q.taken_member_numbers)]:
        for line in taken:
            conn.execute(Q.set_member_number, {"line": line, "member_number": service.new_member_number(conn, digits)})


# --- export ----------------------------------------------------------------------------------------------------

def export_columns(conn: Connection) -> list[str]:
    options = [option["id"] for section in catalog.additional_options(conn) for option in section["options"]]
    return [*COLUMNS, *(OPTION + option_id for option_id in options),
            *(column.name for column in customer_columns.columns())]


def export_rows(conn: Connection, columns: list[str]) -> Iterator[dict]:
    """Every live customer as {column: cell} (cells as text, "" for empty), streamed from a server-side
    cursor: the caller's transaction must stay open while it is read."""
    registered = customer_columns.columns()
    statement = sql.fill(Q.export, {
        "choices": ", " + catalog.EXPORT_PARTS,
        "columns": "".join(f", ({column.export}\n)::text AS \"{column.name}\"" for column in registered),
    })
    options = [name[len(OPTION):] for name in columns if name.startswith(OPTION)]
    with conn.cursor(name="customer_export") as cursor:
        cursor.itersize = 2000
        cursor.execute(statement)
        for row in cursor:
            yield _export_row(row, options, registered)


def _export_row(row: dict, options: list[str], registered) -> dict:
    personal_id = row["personal_id"]
    if row["personal_id_sealed"] is not None:
        personal_id = personal_ids.open_stored(row["customer_id"], row["personal_id_key"], row["personal_id_sealed"])
    cells = {"customer_id": str(row["customer_id"]), "aliases": SEPARATOR.join(row["aliases"]),
             "created": row["created_at"].astimezone(timezone.utc).isoformat(), "personal_id": personal_id,
             "status.color": row["status_color"], "status.text": row["status_text"]}
    for name in ("member_number", "email", "name_first", "name_last", "company", "company_id", "phone", "mobile",
                 "gender", "birthday", "store_id_home"):
        cells[name] = row[name]
    for address in ADDRESSES:
        for part in ADDRESS_PARTS:
            cells[f"{address}.{part}"] = (row[address] or {}).get(part)
    for name in ("accepts_communication", "consents", "voucher_passwords"):
        cells[name] = SEPARATOR.join(row[name])
    values = row["option_values"] or {}
    for option_id in options:
        value = values.get(option_id)
        cells[OPTION + option_id] = (None if value is None else value["text"] if value["text"] is not None
                                     else SEPARATOR.join(value["enum_values"]))
    for column in registered:
        cells[column.name] = row[column.name]
    return {name: "" if value is None else value.isoformat() if isinstance(value, date) else value
            for name, value in cells.items()}


def write_csv(conn: Connection, out) -> int:
    columns = export_columns(conn)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for count, row in enumerate(export_rows(conn, columns), 1):
        writer.writerow([row[name] for name in columns])
    return count


def write_jsonl(conn: Connection, out) -> int:
    """The same columns as JSON lines: lists as arrays, a registered column's cell as its parsed value,
    an empty cell as null."""
    columns = export_columns(conn)
    parsers = {column.name: column.parse for column in customer_columns.columns()}
    count = 0
    for count, row in enumerate(export_rows(conn, columns), 1):
        line = {}
        for name in columns:
            cell = row[name]
            if name in LISTS:
                line[name] = _list(cell)
            elif name in parsers:
                line[name] = parsers[name](cell) if cell else None
            else:
                line[name] = cell or None
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return count
