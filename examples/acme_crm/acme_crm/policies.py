"""A redeem policy: staff members cannot redeem their bonus checks and promotions at their own store.

A staff member is a customer whose status the back office set to the text "Staff"; their own store is
their home store (`store_id_home`), and the till says where it is by its Store-ID header.
"""

from __future__ import annotations

QUERY = "SELECT status_text, store_id_home FROM customers WHERE customer_id = %(customer_id)s"


class StaffNotAtHomeStore:
    def refusals(self, conn, *, customer_id, store_id=None, **kwargs) -> list[str]:
        row = conn.execute(QUERY, {"customer_id": customer_id}).fetchone()
        if row and row["status_text"] == "Staff" and store_id and store_id == row["store_id_home"]:
            return ["staff members cannot redeem at their own store"]
        return []
