"""A black-box conformance suite for any implementation of Sitoo's CRM SPI v2.

`crm-provider contract-test BASE_URL --user U --password P` (cli.py) runs it: the contract's rules
(`checks.py`), each answer judged against the OpenAPI document (`openapi.py`), and a property-based run
with schemathesis (`fuzz.py`); the report is text (`report.py`) or JUnit XML (`junit.py`). How to run it and
read it: docs/contract.md. Its dependencies are the `contract` extra (`pip install '.[contract]'`).
"""
