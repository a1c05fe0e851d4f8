"""The bench database: N customers with the keys a real customer base has, written with COPY.

Rows are generated here, in Python, and streamed as COPY text (`cursor.copy`): on the shared 2-core
machine 100,000 customers (with their consents, options, promotions, bonus checks and transactions) take
5 to 12 s, 1,000,000 about a minute (docs/bench.md), and the keys files come from the same loop, so the
drivers draw only keys that exist. Everything happens in one transaction after a TRUNCATE, so COPY
writes the rows frozen (FREEZE) and the first reads do not pay for setting hint bits; the secondary
indexes are built once after the load, and the foreign-key triggers are skipped (every row refers only to
rows generated before it). VACUUM (ANALYZE) follows.

Keys are stored exactly as the service stores them (crm_provider/keys.py): mobile in E.164,
`email_norm` in lower case, company ids without separators, personal ids sealed with the keyring of the
bench's processes (personal_ids.py; `plain=True` stores them in plain, as releases before migration 0012
did, for comparing with those); the keys files hold them as the
POS types them (`Anna.Berg.17@Example.com`, `19750804-0017`, `556000-0123`), so every search pays for
normalisation. The data is the same for the same `seed`.

Shares, by customer number i: mobile 90%, email 85%, personal id 70%, a company id about 14% (two
contacts per company), consents 50%, option values 40%; every fifth customer (i % 5 == 0) holds a valid
promotion and a valid bonus check (and every tenth an expired bonus check too); every fifth
(i % 5 == 1) has 1 to 5 transactions.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import product
from pathlib import Path
from urllib.parse import quote

from psycopg import sql as psql

from crm_provider import db, personal_ids, sql
from crm_provider.catalog import service as catalog

Q = sql.load(__file__, "seed.sql")

SAMPLE = 50_000  # customers whose keys go into the keys files (all of them below this size)
MEMBER_NUMBER_BASE = 20_000_000  # seeded member numbers; the service's own sequence starts at 100000
MOBILE_PREFIX = "+4670"  # seeded mobiles (creates use +4673, operations.py); 7 digits follow
MAX_CUSTOMERS = 10_000_000  # what 7 mobile digits allow
ID_DAYS = 20_000  # personal ids `YYYYMMDD-NNNN`: a birth date per day from 1950-01-01, then a serial
ID_EPOCH = date(1950, 1, 1)
CHUNK = 5_000  # rows per COPY write
# The keys files: one key per line, URL-encoded as it goes into a query string. `redeem` lines are
# `customer_id promotion_id bonus_check_id`.
KEY_FILES = ("member_number", "mobile", "email", "personal_id", "company_id", "customer_id", "transactions",
             "redeem")

CONSENTS = [
    {"consent_id": "consent_personal_offers", "name": "Accepts Personal Offers", "description": "", "value": False},
    {"consent_id": "consent_newsletter", "name": "Newsletter", "description": "", "value": False},
    {"consent_id": "consent_profiling", "name": "Profiling", "description": "", "value": False},
]
ADDITIONAL_OPTIONS = [
    {"name": "Favorite Teams", "options": [
        {"id": "fav-nhl-team", "name": "NHL", "required": True, "type": "enum-single", "enum_options": [
            {"id": "new-york-rangers", "name": "New York Rangers"},
            {"id": "toronto-maple-leafs", "name": "Toronto Maple Leafs"}]},
        {"id": "fav-mlb-team", "name": "MLB", "type": "enum-single", "enum_options": [
            {"id": "seattle-mariners", "name": "Seattle Mariners"},
            {"id": "texas-rangers", "name": "Texas Rangers"}]},
    ]},
]

FIRST_NAMES = ("Anna Eva Maria Karin Sara Emma Elin Ida Linnea Maja Lena Kerstin Ingrid Sofia Julia Ebba "
               "Lars Anders Johan Erik Per Karl Nils Jan Mikael Peter Oskar Lucas William Hugo Elias Axel").split()
LAST_NAMES = ("Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson "
              "Pettersson Jonsson Jansson Hansson Bengtsson Lindberg Lindqvist Berg Lund Holm Sandberg "
              "Forsberg Sjoberg Wallin Engstrom Eklund Danielsson Hakansson Lundin Bjork").split()
DOMAINS = ("Example.com", "example.se", "Mail.example.net", "example.org")
CITIES = (("Stockholm", "11122"), ("Göteborg", "41101"), ("Malmö", "21115"), ("Uppsala", "75310"),
          ("Umeå", "90326"), ("Lund", "22350"))
STREETS = ("Storgatan", "Kungsgatan", "Drottninggatan", "Vasagatan", "Skolgatan", "Kyrkogatan")
NHL = ("new-york-rangers", "toronto-maple-leafs")
MLB = ("seattle-mariners", "texas-rangers")
STORES = [str(n) for n in range(100, 121)]
GENDERS = ("male", "female", "undisclosed", "\\N")
COMMUNICATION = ("{}", "{email}", "{email,sms}", "{email,mail,sms}")
PAYMENTS = ("Card", "Cash", "Swish")
# Seeded in this order: customers first (the rest refers to them). COPY statements are copy_<table>.
TABLES = ("customers", "customer_consents", "customer_option_values", "promotions", "bonus_checks", "transactions")
ITEMS = (("597330-S", "Deco Coat B/W", "490.00", "98.00"), ("100231-M", "Wool Sweater", "799.00", "159.80"),
         ("220018", "Socks 3-pack", "99.00", "19.80"), ("330102-L", "Rain Jacket", "1290.00", "258.00"),
         ("440005", "Gift Card", "500.00", "0.00"))


@dataclass
class Seeded:
    customers: int
    seconds: float
    keys_dir: Path
    rows: dict[str, int] = field(default_factory=dict)


def personal_id_date(number: int) -> date:
    return ID_EPOCH + timedelta(days=number % ID_DAYS)


def _uuid4(bits: int) -> str:
    """A version-4 UUID from 128 random bits (what gen_random_uuid() stores), without uuid.UUID's cost."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits >> 60 & 3]}{h[17:20]}-{h[20:]}"


def _copy_file(cursor, statement: str, spool) -> int:
    """Stream a spooled table into COPY; return its row count."""
    spool.seek(0)
    rows = 0
    with cursor.copy(statement) as copy:
        while chunk := spool.read(1 << 20):
            rows += chunk.count("\n")
            copy.write(chunk)
    return rows


def seed(url: str, customers: int, keys_dir: Path, *, seed: int = 7, plain: bool = False) -> Seeded:
    """Empty the database at `url` and fill it with `customers` customers; write the keys files."""
    if not 0 < customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 1 and {MAX_CUSTOMERS}")
    started = time.monotonic()
    keys_dir.mkdir(parents=True, exist_ok=True)
    with db.connect(url) as conn, conn.cursor() as cursor, ExitStack() as stack:
        conn.execute(Q.empty)  # in this transaction, so that COPY may write frozen rows
        conn.execute(Q.more_memory_for_index_builds)
        conn.execute(Q.skip_foreign_key_checks)
        catalog.replace_consents(conn, CONSENTS)
        catalog.replace_additional_options(conn, ADDITIONAL_OPTIONS)
        # Building an index once over the loaded rows is several times faster than growing it row by row.
        indexes = conn.execute(Q.secondary_indexes, {"tables": list(TABLES)}).fetchall()
        for index in indexes:
            conn.execute(psql.SQL(Q.drop_index).format(name=psql.Identifier(index["name"])))
        # A connection runs one COPY at a time: the customers stream straight in, the rows that refer to
        # them wait in temporary files.
        spools = {table: stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))
                  for table in TABLES[1:]}
        keyring = None if plain else personal_ids.parse(os.environ["CRM_PERSONAL_ID_KEYS"])
        generator = _Generator(random.Random(seed), customers, keyring)
        with cursor.copy(Q.copy_customers) as copy:
            for lines, dependants in generator.chunks():
                copy.write(lines)
                for table, text in dependants.items():
                    spools[table].write(text)
        rows = {"customers": customers}
        for table, spool in spools.items():
            rows[table] = _copy_file(cursor, getattr(Q, f"copy_{table}"), spool)
        for index in indexes:
            conn.execute(index["definition"])
        conn.commit()
        conn.autocommit = True
        conn.execute(Q.analyze)
        conn.execute(Q.checkpoint)
    generator.write_keys(keys_dir)
    return Seeded(customers, time.monotonic() - started, keys_dir, rows)


class _Generator:
    """The customers and what refers to them, as COPY text, CHUNK customers at a time."""

    def __init__(self, rng: random.Random, customers: int, keyring: personal_ids.Keyring | None):
        self.rng = rng
        self.keyring = keyring
        self.customers = customers
        self.sampled = set(rng.sample(range(customers), min(customers, SAMPLE)))
        self.keys = {name: [] for name in KEY_FILES}
        now = datetime.now(timezone.utc).replace(microsecond=0)
        self.moments = sorted(f"{now - timedelta(seconds=rng.randrange(5 * 365 * 86400))}" for _ in range(20_000))
        self.next_year, self.last_year = f"{now + timedelta(days=365)}", f"{now - timedelta(days=365)}"
        self.addresses = [
            json.dumps({"address": f"{street} {n}", "zip": zip_code, "city": city, "country_id": "SE"},
                       ensure_ascii=False)
            for street in STREETS for n in (1, 7, 12, 33) for city, zip_code in CITIES]
        self.sections = json.dumps([{"title": "Customer Info",
                                     "values": [{"type": "text", "title": "Bonus Points", "text": "2451"}]}])
        self.birth_dates = [personal_id_date(day) for day in range(ID_DAYS)]
        self.compact_dates = [f"{d:%Y%m%d}" for d in self.birth_dates]
        self.purchases = [_purchase(lines) for n in (1, 2, 3) for lines in product(ITEMS, repeat=n)]
        self.order_id = 0

    def chunks(self):
        for start in range(0, self.customers, CHUNK):
            out = {table: [] for table in TABLES}
            for i in range(start, min(start + CHUNK, self.customers)):
                self._customer(i, out)
            yield "".join(out.pop("customers")), {table: "".join(lines) for table, lines in out.items()}

    def _customer(self, i: int, out: dict) -> None:
        rng, rand, moments, N = self.rng, self.rng.random, self.moments, "\\N"
        cid = _uuid4(rng.getrandbits(128))
        first, last = FIRST_NAMES[int(rand() * len(FIRST_NAMES))], LAST_NAMES[int(rand() * len(LAST_NAMES))]
        member_number = str(MEMBER_NUMBER_BASE + i)
        mobile = f"{MOBILE_PREFIX}{i:07d}" if i % 10 else None
        email = f"{first}.{last}.{i}@{DOMAINS[i % len(DOMAINS)]}" if i % 20 >= 3 else None
        pid = f"{self.compact_dates[i % ID_DAYS]}-{i // ID_DAYS:04d}" if i % 10 < 7 else None
        company = i // 2  # two contacts per company
        company_id = f"556{company % 1000:03d}-{company // 1000:04d}" if company % 7 == 0 else None
        created = int(rand() * len(moments))
        updated = created + int(rand() * (len(moments) - created))
        out["customers"].append("\t".join((
            cid, member_number, email or N, email.lower() if email else N, first, last,
            *self._personal_id(cid, pid),
            f"Company {company} AB" if company_id else N, company_id or N,
            company_id.replace("-", "") if company_id else N, mobile or N,
            self.addresses[int(rand() * len(self.addresses))] if i % 5 < 3 else N,
            GENDERS[int(rand() * len(GENDERS))], str(self.birth_dates[i % ID_DAYS]) if pid else N,
            COMMUNICATION[int(rand() * len(COMMUNICATION))],
            "green" if i % 10 == 9 else N, "Gold member" if i % 10 == 9 else N,
            "{member_pricelist}" if i % 20 == 19 else "{}", self.sections if i % 10 < 3 else "[]",
            STORES[int(rand() * len(STORES))], moments[created], moments[updated],
        )) + "\n")
        if i % 2 == 0:
            out["customer_consents"].extend(f"{cid}\t{c['consent_id']}\n" for c in CONSENTS[: 1 + i % 3])
        if i % 5 < 2:
            out["customer_option_values"].append(f"{cid}\tfav-nhl-team\t{{{NHL[int(rand() * 2)]}}}\n")
        sampled = i in self.sampled
        if i % 5 == 0:
            promotion, bonus_check = _uuid4(rng.getrandbits(128)), f"BC{i:08d}"
            out["customer_option_values"].append(f"{cid}\tfav-mlb-team\t{{{MLB[int(rand() * 2)]}}}\n")
            out["promotions"].append(
                f"{promotion}\t{cid}\t10% Off\tcart_percent\t10\t{self.next_year}\t{moments[created]}\n")
            out["bonus_checks"].append(
                f"{bonus_check}\t{cid}\tBonus 100 SEK\t100.00\t{N}\t{self.next_year}\t{moments[created]}\n")
            if i % 10 == 0:
                out["bonus_checks"].append(
                    f"BX{i:08d}\t{cid}\tExpired bonus\t50.00\t{N}\t{self.last_year}\t{moments[created]}\n")
            if sampled:
                self.keys["redeem"].append(f"{cid} {promotion} {bonus_check}")
        if i % 5 == 1:
            for _ in range(1 + int(rand() * 5)):
                self.order_id += 1
                items, total = self.purchases[int(rand() * len(self.purchases))]
                store = STORES[int(rand() * len(STORES))]
                payment = PAYMENTS[int(rand() * len(PAYMENTS))]
                out["transactions"].append(
                    f"{cid}\t{self.order_id}\tR{self.order_id}\t{moments[int(rand() * len(moments))]}\t{store}\t"
                    f"Store {store}\tSEK\t{items}\t[{{\"name\": \"{payment}\", \"total\": \"{total}\"}}]\t{total}\n")
            if sampled:
                self.keys["transactions"].append(cid)
        if sampled:
            self.keys["member_number"].append(member_number)
            self.keys["customer_id"].append(cid)
            for name, value in (("mobile", mobile), ("email", email), ("personal_id", pid), ("company_id", company_id)):
                if value:
                    self.keys[name].append(quote(value, safe=""))

    def _personal_id(self, cid: str, pid: str | None) -> tuple[str, ...]:
        """The personal id columns (plain, normalised, key id, sealed, index) as COPY text."""
        N = "\\N"
        if pid is None:
            return N, N, N, N, N
        if self.keyring is None:
            return pid, pid.replace("-", ""), N, N, N
        key_id, sealed = self.keyring.seal(cid, pid)
        return N, N, key_id, f"\\\\x{sealed.hex()}", f"\\\\x{self.keyring.index(pid.replace('-', '')).hex()}"

    def write_keys(self, keys_dir: Path) -> None:
        for name, values in self.keys.items():
            self.rng.shuffle(values)
            (keys_dir / f"{name}.txt").write_text("".join(f"{v}\n" for v in values), encoding="utf-8")


def _purchase(lines) -> tuple[str, str]:
    """Items of one purchase in the contract's TransactionItem shape (stored as on the wire), and the total."""
    items = [{"discounts": [], "product_name": name, "quantity": 1, "sku": sku, "total": total, "vat": vat,
              "vat_value": 25 if vat != "0.00" else 0} for sku, name, total, vat in lines]
    return json.dumps(items), str(sum(Decimal(line[2]) for line in lines))
