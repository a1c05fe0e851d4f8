"""An earn rule: double points for a purchase made on the customer's birthday."""

from __future__ import annotations

import datetime


class BirthdayDoublePoints:
    def earn(self, purchase: dict, points: int, *, customer: dict | None = None, **kwargs) -> int:
        birthday = (customer or {}).get("birthday")  # "YYYY-MM-DD"
        if not birthday:
            return points
        bought = datetime.datetime.fromtimestamp(purchase["date_created"], datetime.timezone.utc).date()
        return points * 2 if bought.strftime("%m-%d") == birthday[5:] else points
