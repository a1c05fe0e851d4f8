"""The benchmark harness of issue 7: `make bench`, `make bench-quick`, or `python -m bench --help`."""

import os

from crm_provider import personal_ids

# Every process of a run (the seed, the servers, the workers) shares one personal ids' keyring, as a
# deployment's do.
os.environ.setdefault("CRM_PERSONAL_ID_KEYS", personal_ids.generate())
