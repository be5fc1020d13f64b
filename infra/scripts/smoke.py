#!/usr/bin/env python3
"""Smoke run: the shop's main walk against a running Aisle, over its public HTTP API only, as
a seller, a warehouse and a shopper would walk it. Ends with "N passed, N failed".

Against a deployed stack (`make smoke STACK=<name>`; infra/scripts/smoke.sh reads the stack's
outputs with the AWS CLI):
  AISLE      the API's base URL (output ApiUrl)
  SHOPPER    a signed-in shopper's token, SELLER a token of a user in the `sellers` group
             (sign in on the storefront; README "Deploying", "Smoke run")
  WAREHOUSE  a warehouse system's token, or WAREHOUSE_CLIENT_ID + WAREHOUSE_CLIENT_SECRET
             (what onboard-warehouse.sh printed) and AUTH_DOMAIN (output AuthDomain): the
             token is then asked for with the client-credentials grant, as the warehouse's
             system asks for it
  WAREHOUSE_ID the onboarded warehouse (default wh-1000)
  PAYMENT_METHOD a Stripe test-mode PaymentMethod (default pm_card_visa, Stripe's test card:
             https://docs.stripe.com/testing#cards); the stack's Stripe key must be a test key

Against `make dev` (what CI runs, from e2e.sh), LOCALSTRIPE names localstripe, where the card
is made as Stripe.js would make it. Standard library only; every wait is a poll with a
deadline. What it leaves behind: one listed item with two units, one cancelled order; it
empties the smoke shopper's cart first (use a test account).
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = os.environ["AISLE"].rstrip("/")
WAREHOUSE_ID = os.environ.get("WAREHOUSE_ID", "wh-1000")
results = []


def form_post(url, form, headers=None):
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def warehouse_token():
    """The warehouse system's access token: given, or asked for as the system asks for it
    (client credentials at the user pool's token endpoint, scope aisle/warehouse)."""
    if os.environ.get("WAREHOUSE"):
        return os.environ["WAREHOUSE"]
    client, secret = os.environ["WAREHOUSE_CLIENT_ID"], os.environ["WAREHOUSE_CLIENT_SECRET"]
    basic = base64.b64encode(f"{client}:{secret}".encode()).decode()
    answer = form_post(
        os.environ["AUTH_DOMAIN"].rstrip("/") + "/oauth2/token",
        {"grant_type": "client_credentials", "scope": "aisle/warehouse"},
        {"authorization": "Basic " + basic},
    )
    return answer["access_token"]


TOKENS = {"SHOPPER": os.environ["SHOPPER"], "SELLER": os.environ["SELLER"], "WAREHOUSE": warehouse_token()}


def payment_method():
    """A card the shopper's browser would have made with Stripe.js."""
    if os.environ.get("LOCALSTRIPE"):
        card = {"type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"}
        return form_post(os.environ["LOCALSTRIPE"] + "/v1/payment_methods", card, {"authorization": "Bearer sk_test_aisle_local"})["id"]
    return os.environ.get("PAYMENT_METHOD", "pm_card_visa")


def call(method, path, token=None, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + TOKENS[token])
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f"  -- {detail}"), flush=True)
    return ok


def poll(deadline_s, probe, every=1.0):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            if probe():
                return True
        except (KeyError, IndexError, TypeError, urllib.error.URLError):
            pass
        time.sleep(every)
    return False


def walk():
    word = "smoke" + uuid.uuid4().hex[:8]
    status, item = call("POST", "/v1/seller/items", "SELLER", {"name": f"{word.capitalize()} kettle", "category": "smoke-test", "brand": "Aisle", "price": {"amount": 1999, "currency": "USD"}})
    if not check("a seller lists an item", status == 201, (status, item)):
        return
    item_id = item["itemId"]
    status, receipt = call("POST", f"/v1/warehouses/{WAREHOUSE_ID}/stock", "WAREHOUSE", {"itemId": item_id, "quantity": 2})
    check(f"warehouse {WAREHOUSE_ID} receives 2 units", status == 200 and receipt["levels"]["itemAvailable"] == 2, (status, receipt))
    status, _ = call("POST", f"/v1/warehouses/{WAREHOUSE_ID}/stock", "SHOPPER", {"itemId": item_id, "quantity": 2})
    check("a shopper's token cannot act for the warehouse", status in (401, 403), status)
    found = poll(60, lambda: call("GET", f"/v1/items?q={word}&inStock=true")[1]["total"] == 1)
    check("search finds it in stock", found)
    status, page = call("GET", f"/v1/items/{item_id}")
    check("its page shows 2 available", status == 200 and page["availability"]["available"] == 2, (status, page))
    # The smoke shopper's cart holds this item only (what an earlier run or a person left
    # there could be sold out, and checkout holds the whole cart).
    for line in (call("GET", "/v1/cart", "SHOPPER")[1] or {}).get("lines", []):
        call("DELETE", f"/v1/cart/items/{line['itemId']}", "SHOPPER")
    status, cart = call("PUT", f"/v1/cart/items/{item_id}", "SHOPPER", {"quantity": 1})
    check("the shopper carts one (nothing else in the cart)", status == 200 and cart.get("itemCount") == 1, (status, cart))
    status, begun = call("POST", "/v1/checkout", "SHOPPER", headers={"Idempotency-Key": uuid.uuid4().hex})
    if not check("the shopper begins checkout (a timed hold)", status == 201, (status, begun)):
        return
    address = {"name": "Smoke Test", "line1": "340 W Market", "city": "Bloomington", "state": "MN", "zip": "55425", "country": "US"}
    status, order = call("POST", f"/v1/checkout/{begun['checkoutId']}/order", "SHOPPER", {"paymentToken": payment_method(), "shippingAddress": address}, {"Idempotency-Key": uuid.uuid4().hex})
    if not check("the shopper pays in Stripe test mode: PLACED", status == 201 and order["status"] == "PLACED", (status, order)):
        return
    order_id = order["orderId"]
    status, mine = call("GET", f"/v1/orders/{order_id}", "SHOPPER")
    check("the shopper reads the order", status == 200 and mine["orderId"] == order_id, (status, mine))
    status, theirs = call("GET", f"/v1/orders/{order_id}", "SELLER")
    check("another user cannot read it (404)", status == 404, status)
    processing = poll(90, lambda: call("GET", f"/v1/orders/{order_id}", "SHOPPER")[1]["status"] == "PROCESSING")
    check("the order reaches warehouse assignment: PROCESSING", processing)
    status, cancelled = call("POST", f"/v1/orders/{order_id}/cancel", "SHOPPER")
    check("the shopper cancels it: refunded", status == 200 and cancelled["status"] == "CANCELLED", (status, cancelled))
    back = poll(30, lambda: call("GET", f"/v1/items/{item_id}")[1]["availability"]["available"] == 2)
    check("its unit is back in stock", back)


walk()
failed = results.count(False)
print(f"smoke: {len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed or not results else 0)
