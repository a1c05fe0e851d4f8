"""A customer hook: tells a newsletter tool of every new, changed or erased member.

The tool is asked over HTTP (`ACME_NEWSLETTER_URL`, a JSON POST per event, with the event id as an
idempotency key), from the worker, after the change committed. A failure raises: the worker calls the hook
again later with the same event, so the tool sees each event at least once and deduplicates by its id.
"""

from __future__ import annotations

import json
import os
import urllib.request


class NewsletterHook:
    def __init__(self, url: str | None = None, timeout: float = 5.0):
        self.url = url or os.environ["ACME_NEWSLETTER_URL"]
        self.timeout = timeout

    def customer_event(self, event: dict, *, customer: dict | None = None, **kwargs) -> None:
        if event["kind"] == "erased" or customer is None:
            body = {"event_id": event["event_id"], "action": "forget", "member": event["customer_id"]}
        elif not customer.get("email") or "email" not in customer.get("accepts_communication", []):
            body = {"event_id": event["event_id"], "action": "unsubscribe", "member": event["customer_id"]}
        else:
            body = {"event_id": event["event_id"], "action": "subscribe", "member": event["customer_id"],
                    "email": customer["email"], "first_name": customer.get("name_first")}
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST", headers={
            "Content-Type": "application/json", "Idempotency-Key": event["event_id"]})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # a 4xx or 5xx raises
            response.read()
