"""Drives the official segment-analytics-python client against Concierge.

usage: segment_python.py HOST WRITE_KEY RUN_ID
Sends identify, track, page, screen, group and alias (gzip on), then exits 1 if the client
reported any error. The Rust test then checks what was stored.
"""
import sys

from segment.analytics import Client

host, write_key, run = sys.argv[1], sys.argv[2], sys.argv[3]
errors = []
client = Client(
    write_key=write_key,
    host=host,
    gzip=True,
    max_retries=2,
    on_error=lambda e, batch: errors.append(repr(e)),
)
user = f"py-user-{run}"
anon = f"py-anon-{run}"
client.identify(user, {"email": f"Py.{run}@Example.com", "name": "Ana Py", "plan": "gold"}, anonymous_id=anon)
client.track(user, "Order Completed", {"order_id": f"o-{run}", "revenue": 129.9, "currency": "BRL"})
client.page(user, "Shop", "Home", {"url": "https://loja.example/", "path": "/"})
client.screen(user, "App", "Cart", {"items": 2})
client.group(user, f"company-{run}", {"name": "ACME"})
client.alias(f"py-old-{run}", user)
client.flush()
client.join()
if errors:
    print("client errors:", errors)
    sys.exit(1)
print("sent 6 calls")
