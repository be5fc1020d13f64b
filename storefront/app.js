// Aisle storefront: a plain-JavaScript single page over the Aisle HTTP API. Routes are URL
// fragments (#/cart, #/order/<id>, ...). config.js says where the API is and how to sign in:
// "dev" (make dev: dev tokens from the storefront server) or "cognito" (AWS: Cognito's
// hosted UI, authorization code with PKCE).
"use strict";

const cfg = window.AISLE_CONFIG || { api: "http://127.0.0.1:3000", signIn: "dev" };
const view = document.getElementById("view");
const store = window.sessionStorage;
let timers = [];
let sockets = [];

// ------------------------------------------------------------------ helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...nodes) {
  for (const t of timers) clearInterval(t);
  timers = [];
  // A page's live sockets close with it (without falling back to polling).
  for (const s of sockets) { s.onclose = null; s.onerror = null; s.close(); }
  sockets = [];
  view.replaceChildren(...nodes.filter(n => n !== null && n !== undefined));
}

let saidAt = 0;
function say(message, isError) {
  const n = document.getElementById("notice");
  n.textContent = message || "";
  n.className = isError ? "error" : "";
  n.removeAttribute("data-test");
  saidAt = message ? Date.now() : 0;
}

function money(m) {
  if (!m) return "";
  const f = new Intl.NumberFormat("en-US", { style: "currency", currency: m.currency });
  const digits = f.resolvedOptions().maximumFractionDigits;
  return f.format(m.amount / 10 ** digits);
}

function day(iso) {
  const d = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(iso + "T12:00:00Z") : new Date(iso);
  return d.toLocaleDateString("en-US", { weekday: "short", month: "short", day: "numeric", timeZone: "UTC" });
}

function when(iso) {
  return new Date(iso).toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

function key() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}

function errorText(reply) {
  const e = reply.body && reply.body.error;
  return e ? e.message : `HTTP ${reply.status}`;
}

// ------------------------------------------------------------------ the API

function token() { return store.getItem("aisle.token"); }
function role() { return store.getItem("aisle.role") || ""; }

async function api(method, path, body, headers) {
  const init = { method, headers: Object.assign({}, headers), cache: "no-cache" };
  if (token()) init.headers.Authorization = "Bearer " + token();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(cfg.api + path, init);
  } catch (e) {
    return { status: 0, body: { error: { code: "NETWORK", message: "The shop cannot be reached. Try again." } } };
  }
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
  if (response.status === 401 && token()) {
    signOut();
    say("Your sign-in ran out. Please sign in again.", true);
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

function needSignIn() {
  if (token()) return false;
  show(h("div", { class: "panel" }, h("p", {}, "Please ", h("a", { href: "#/signin" }, "sign in"), " first.")));
  return true;
}

// ------------------------------------------------------------------ sign-in

function signOut() {
  for (const k of ["aisle.token", "aisle.role", "aisle.user"]) store.removeItem(k);
  header();
}

function claims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (e) {
    return {};
  }
}

function keepToken(jwt) {
  const c = claims(jwt);
  const groups = c["cognito:groups"] || [];
  store.setItem("aisle.token", jwt);
  store.setItem("aisle.role", groups.includes("sellers") ? "seller" : "shopper");
  store.setItem("aisle.user", c.username || c["cognito:username"] || c.email || c.sub || "you");
  header();
}

async function pkce() {
  const verifier = Array.from(crypto.getRandomValues(new Uint8Array(32)), b => b.toString(16).padStart(2, "0")).join("");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const challenge = btoa(String.fromCharCode(...new Uint8Array(digest))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return { verifier, challenge };
}

async function cognitoSignIn() {
  const { verifier, challenge } = await pkce();
  store.setItem("aisle.pkce", verifier);
  const redirect = location.origin + location.pathname;
  const url = `${cfg.cognitoDomain}/oauth2/authorize?response_type=code&client_id=${encodeURIComponent(cfg.clientId)}` +
    `&redirect_uri=${encodeURIComponent(redirect)}&scope=openid+email&code_challenge_method=S256&code_challenge=${challenge}`;
  location.assign(url);
}

async function cognitoReturn() {
  const code = new URLSearchParams(location.search).get("code");
  if (!code || cfg.signIn !== "cognito") return;
  const redirect = location.origin + location.pathname;
  const form = new URLSearchParams({ grant_type: "authorization_code", client_id: cfg.clientId, code, redirect_uri: redirect, code_verifier: store.getItem("aisle.pkce") || "" });
  const r = await fetch(`${cfg.cognitoDomain}/oauth2/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form });
  const answer = await r.json().catch(() => ({}));
  if (answer.id_token) keepToken(answer.id_token);
  history.replaceState(null, "", location.pathname + "#/");
}

function signInPage() {
  if (cfg.signIn === "cognito") {
    show(h("div", { class: "panel" }, h("h2", {}, "Sign in"), h("button", { class: "primary", onclick: cognitoSignIn }, "Sign in with Aisle")));
    return;
  }
  const name = h("input", { name: "user", required: true, value: store.getItem("aisle.user") || "", placeholder: "e.g. alex", "data-test": "signin-user" });
  const pick = h("select", { name: "role", "data-test": "signin-role" }, h("option", { value: "shopper" }, "Shopper"), h("option", { value: "seller" }, "Seller"));
  const form = h("form", { class: "form panel", onsubmit: async (e) => {
    e.preventDefault();
    const r = await fetch("/_dev/token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: name.value, role: pick.value }) });
    const answer = await r.json();
    if (!r.ok) return say(answer.error.message, true);
    keepToken(answer.token);
    store.setItem("aisle.role", pick.value);
    store.setItem("aisle.user", name.value);
    header();
    say(`Signed in as ${name.value} (${pick.value}).`);
    location.hash = pick.value === "seller" ? "#/seller" : "#/";
  } },
    h("h2", {}, "Sign in (development)"),
    h("p", { class: "muted" }, "Locally, a dev token stands in for Cognito: pick a name and a role."),
    h("label", {}, "Name", name), h("label", {}, "Role", pick),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit", "data-test": "signin-submit" }, "Sign in"),
      token() ? h("button", { type: "button", onclick: () => { signOut(); say("Signed out."); } }, "Sign out") : null));
  show(form);
}

function header() {
  const who = document.getElementById("who");
  who.textContent = token() ? `${store.getItem("aisle.user")} · sign out` : "Sign in";
  who.onclick = token() ? (e) => { e.preventDefault(); signOut(); say("Signed out."); location.hash = "#/"; } : null;
  document.getElementById("nav-seller").hidden = role() !== "seller";
  document.getElementById("nav-mailbox").hidden = cfg.signIn !== "dev";
  refreshCartCount();
  refreshUnread();
}

async function refreshCartCount() {
  const badge = document.getElementById("cart-count");
  if (!token()) { badge.textContent = "0"; return; }
  const r = await api("GET", "/v1/cart");
  if (r.status === 200) badge.textContent = String(r.body.itemCount || 0);
}

// ------------------------------------------------------------------ search

const zipInput = document.getElementById("zip");
zipInput.value = localStorage.getItem("aisle.zip") || "";
zipInput.addEventListener("change", () => {
  const z = zipInput.value.trim();
  if (z && !/^\d{5}$/.test(z)) return say("A ZIP code is 5 digits.", true);
  localStorage.setItem("aisle.zip", z);
  if (location.hash.startsWith("#/search") || location.hash === "#/" || location.hash === "") route();
});

document.getElementById("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = document.getElementById("q").value.trim();
  location.hash = "#/search?" + new URLSearchParams({ q }).toString();
});

function availability(a) {
  if (!a || a.available === 0) return h("span", { class: "stock-out", "data-test": "stock" }, "Sold out");
  if (a.lowStock) return h("span", { class: "stock-low", "data-test": "stock" }, `Only ${a.available} left`);
  return h("span", { class: "stock-in", "data-test": "stock" }, `In stock (${a.available})`);
}

function deliveryLine(d, zip) {
  if (!d) return zip ? null : h("div", { class: "delivery muted" }, "Enter your ZIP to see delivery dates");
  if (!d.deliverable) return h("div", { class: "delivery stock-out", "data-test": "delivery" }, `Cannot be delivered to ${zip} now`);
  return h("div", { class: "delivery", "data-test": "delivery" }, `Arrives ${day(d.estimatedDate)} (${d.days} days) to ${zip}`);
}

async function addToCart(itemId, quantity) {
  if (!token()) { location.hash = "#/signin"; return; }
  const r = await api("PUT", `/v1/cart/items/${itemId}`, { quantity: quantity || 1 });
  if (r.status === 200) { say("Added to your cart."); refreshCartCount(); }
  else say(errorText(r), true);
}

async function addToWishlist(itemId) {
  if (!token()) { location.hash = "#/signin"; return; }
  const r = await api("PUT", `/v1/wishlist/items/${itemId}`);
  say(r.status === 200 ? "Saved to your wishlist." : errorText(r), r.status !== 200);
}

/// An item's image in a box of fixed proportions (nothing moves when it loads): WebP where the
/// browser takes it, JPEG otherwise, the width the layout needs from `srcset`. Below the fold
/// (`eager` false) it loads only when scrolled near. No image: an empty box of the same size.
function picture(image, alt, sizes, eager) {
  if (!image || !image.renditions || !image.renditions.length) {
    return h("div", { class: "pic empty", "aria-hidden": "true" });
  }
  const set = (kind) => image.renditions.map(r => `${r[kind]} ${r.width}w`).join(", ");
  const middle = image.renditions[Math.min(1, image.renditions.length - 1)];
  return h("div", { class: "pic" },
    h("picture", {},
      h("source", { type: "image/webp", srcset: set("webp"), sizes }),
      h("img", { src: middle.jpeg, srcset: set("jpeg"), sizes, alt, width: image.width, height: image.height,
        loading: eager ? "eager" : "lazy", decoding: "async", fetchpriority: eager ? "high" : undefined, "data-test": "pic" })));
}

function itemCard(item, zip, index) {
  return h("article", { class: "card", "data-test": "hit", "data-item": item.itemId },
    h("a", { href: `#/item/${item.itemId}`, tabindex: "-1", "aria-hidden": "true" },
      picture((item.images || [])[0], "", "(min-width: 760px) 220px, 45vw", index < 4)),
    h("h3", {}, h("a", { href: `#/item/${item.itemId}` }, item.name)),
    h("div", { class: "muted" }, `${item.brand} · ${item.category}`),
    h("div", { class: "price" }, money(item.price)),
    availability(item.availability),
    deliveryLine(item.delivery, zip),
    h("div", { class: "actions" },
      h("button", { class: "primary", disabled: item.availability && item.availability.available === 0, onclick: () => addToCart(item.itemId), "data-test": "add-to-cart" }, "Add to cart"),
      h("button", { onclick: () => addToWishlist(item.itemId), "data-test": "add-to-wishlist" }, "♡ Save")));
}

async function searchPage(params, above) {
  const zip = localStorage.getItem("aisle.zip") || "";
  const q = new URLSearchParams(params);
  document.getElementById("q").value = q.get("q") || "";
  const query = new URLSearchParams();
  for (const [k, v] of q) if (v) query.set(k, v);
  if (zip) query.set("zip", zip);
  query.set("limit", "24");
  // Signed in without a ZIP here: the signed-in route dates deliveries to the saved address.
  const signedInDefault = !zip && token();
  if (!zip && !signedInDefault && query.get("sort") === "delivery") query.delete("sort");
  let r = await api("GET", (signedInDefault ? "/v1/me/items?" : "/v1/items?") + query.toString());
  if (signedInDefault && r.status === 400 && query.get("sort") === "delivery") {
    query.delete("sort"); // no saved address either
    r = await api("GET", "/v1/me/items?" + query.toString());
  }
  if (r.status !== 200) {
    show(h("div", { class: "panel" }, h("p", {}, errorText(r))));
    return;
  }
  const page = r.body;
  const dateZip = zip || page.deliveryZip || "";
  const setParam = (name, value) => {
    const next = new URLSearchParams(params);
    if (value === null || next.get(name) === value) next.delete(name); else next.set(name, value);
    next.delete("cursor");
    location.hash = "#/search?" + next.toString();
  };
  const facet = (title, name, values) => h("div", {},
    h("h3", {}, title),
    values.map(v => h("button", { class: q.get(name) === v.value ? "on" : "", onclick: () => setParam(name, v.value), "data-test": `facet-${name}` }, `${v.value} (${v.count})`)));
  const sort = h("select", { "aria-label": "Sort", "data-test": "sort", onchange: (e) => setParam("sort", e.target.value || null) },
    [["", "Best match"], ["price_asc", "Price: low to high"], ["price_desc", "Price: high to low"], ["newest", "Newest"], ["delivery", "Fastest delivery"]]
      .map(([v, label]) => h("option", { value: v, selected: (q.get("sort") || "") === v }, label)));
  const toggle = (name, label) => h("label", {}, h("input", { type: "checkbox", checked: q.get(name) === "true", onchange: (e) => setParam(name, e.target.checked ? "true" : null), "data-test": `toggle-${name}` }), " ", label);
  const more = page.nextCursor ? h("button", { onclick: () => { const next = new URLSearchParams(params); next.set("cursor", page.nextCursor); location.hash = "#/search?" + next.toString(); } }, "More results") : null;
  show(above || null, h("div", { class: "layout" },
    h("aside", { class: "facets panel" },
      facet("Category", "category", page.facets.category || []),
      facet("Brand", "brand", page.facets.brand || [])),
    h("section", {},
      h("div", { class: "controls" },
        h("strong", { "data-test": "total" }, `${page.countsEstimated ? "About " : ""}${page.total} ${page.total === 1 ? "result" : "results"}`),
        sort, toggle("inStock", "In stock"), toggle("deliverable", "Deliverable only"),
        q.get("category") || q.get("brand") ? h("button", { onclick: () => { const next = new URLSearchParams(params); next.delete("category"); next.delete("brand"); location.hash = "#/search?" + next; } }, "Clear filters") : null),
      page.items.length ? h("div", { class: "grid" }, page.items.map((i, n) => itemCard(i, dateZip, n))) : h("p", {}, "Nothing matches. Try fewer words."),
      more)));
}

// ------------------------------------------------------------------ recommendations

/// A titled row of items (up to five cards); nothing when the list is empty. The first
/// row's pictures load at once (they are the first thing seen), the others when near.
function itemRow(title, items, test, eager) {
  if (!items || !items.length) return null;
  const id = "row-" + test;
  return h("section", { class: "shelf", "aria-labelledby": id, "data-test": test },
    h("h2", { id }, title),
    h("div", { class: "shelf-items" }, items.slice(0, 5).map((item, n) =>
      h("article", { class: "card mini", "data-test": "row-item", "data-item": item.itemId },
        h("a", { href: `#/item/${item.itemId}`, tabindex: "-1", "aria-hidden": "true" },
          picture((item.images || [])[0], "", "(min-width: 760px) 200px, 45vw", eager && n < 5)),
        h("h3", {}, h("a", { href: `#/item/${item.itemId}` }, item.name)),
        h("div", { class: "price" }, money(item.price))))));
}

/// The home page: "Popular now" (the last hour, else the day), "For you" when signed in,
/// and the most popular of the first categories, then the catalogue as before. Everything
/// is fetched before anything is drawn, so nothing moves once shown.
async function homePage() {
  const browse = await api("GET", "/v1/items?limit=1");
  const categories = browse.status === 200 ? (browse.body.facets.category || []).slice(0, 2).map(c => c.value) : [];
  const [hour, day, mine, ...perCategory] = await Promise.all([
    api("GET", "/v1/recommendations?window=hour&limit=5"),
    api("GET", "/v1/recommendations?window=day&limit=5"),
    token() ? api("GET", "/v1/me/recommendations?limit=5") : Promise.resolve(null),
    ...categories.map(c => api("GET", `/v1/recommendations?window=day&limit=5&category=${encodeURIComponent(c)}`)),
  ]);
  const list = (r, field) => (r && r.status === 200 ? r.body[field] : []);
  const popular = list(hour, "popular").length ? list(hour, "popular") : list(day, "popular");
  const rows = [
    itemRow("Popular now", popular, "popular-now", true),
    itemRow("For you", list(mine, "forYou"), "for-you", !popular.length),
    itemRow("Most wishlisted today", list(day, "wishlisted"), "most-wishlisted", false),
    ...categories.map((c, n) => itemRow(`Popular in ${c}`, list(perCategory[n], "popular"), `popular-${c}`, false)),
  ].filter(Boolean);
  return searchPage("", rows.length ? h("div", { class: "shelves" }, rows) : null);
}

/// The suggestions under the search box: a combobox (WAI-ARIA's pattern, list autocomplete):
/// typing asks for completions; Down and Up move through them, Enter takes the one shown
/// active (or searches what was typed), Escape closes the list; a click takes one too.
function autocomplete() {
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");
  let shown = [];
  let active = -1;
  let asked = 0;
  let debounce = null;
  const close = () => {
    shown = []; active = -1;
    list.replaceChildren(); list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  };
  const take = (s) => {
    close();
    const params = new URLSearchParams();
    if (s.kind === "brand") params.set("brand", s.text);
    else if (s.kind === "category") params.set("category", s.text);
    else params.set("q", s.text);
    input.value = s.kind === "query" || s.kind === "item" ? s.text : "";
    location.hash = "#/search?" + params.toString();
  };
  const mark = (n) => {
    active = n;
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === n)));
    if (n >= 0) input.setAttribute("aria-activedescendant", `suggestion-${n}`);
    else input.removeAttribute("aria-activedescendant");
  };
  const label = { query: "search", brand: "brand", category: "category", item: "product" };
  const draw = (suggestions) => {
    shown = suggestions; active = -1;
    list.replaceChildren(...suggestions.map((s, n) =>
      h("li", { id: `suggestion-${n}`, role: "option", "aria-selected": "false", "data-test": "suggestion",
        onmousedown: (e) => { e.preventDefault(); take(s); } },
        s.text, h("span", { class: "muted" }, ` · ${label[s.kind] || s.kind}`))));
    list.hidden = !suggestions.length;
    input.setAttribute("aria-expanded", String(suggestions.length > 0));
  };
  input.addEventListener("input", () => {
    clearTimeout(debounce);
    const text = input.value;
    if (!text.trim()) return close();
    debounce = setTimeout(async () => {
      const mine = ++asked;
      const r = await api("GET", "/v1/items/suggest?" + new URLSearchParams({ q: text }).toString());
      // An answer to an older keystroke is dropped.
      if (mine !== asked || input.value !== text) return;
      draw(r.status === 200 ? r.body.suggestions : []);
    }, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && shown.length) { e.preventDefault(); mark((active + 1) % shown.length); }
    else if (e.key === "ArrowUp" && shown.length) { e.preventDefault(); mark(active <= 0 ? shown.length - 1 : active - 1); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); take(shown[active]); }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));
  document.getElementById("search-form").addEventListener("submit", close);
}
autocomplete();

/// The shopper's restock alerts (item ids), read once per page that shows "Notify me".
async function restockAlerts() {
  if (!token()) return new Set();
  const r = await api("GET", "/v1/me/restock-alerts");
  return new Set(r.status === 200 ? r.body.items.map(a => a.itemId) : []);
}

/// "Notify me" for a sold-out item in `box`: ask, or show that we will tell, with a way to
/// stop; nothing while it is in stock.
async function notifyMe(box, itemId, inStock) {
  if (inStock) { box.replaceChildren(); return; }
  if (!token()) {
    box.replaceChildren(h("a", { href: "#/signin" }, "Sign in"), " to be told when it is back.");
    return;
  }
  const waiting = (await restockAlerts()).has(itemId);
  const render = (on) => box.replaceChildren(on
    ? h("span", { "data-test": "notify-on" }, "We will tell you when it is back. ",
        h("button", { type: "button", onclick: async () => {
          const r = await api("DELETE", `/v1/me/restock-alerts/${itemId}`);
          say(r.status === 200 ? "You will not be told." : errorText(r), r.status !== 200);
          if (r.status === 200) render(false);
        } }, "Stop"))
    : h("button", { type: "button", "data-test": "notify-me", onclick: async () => {
        const r = await api("PUT", `/v1/me/restock-alerts/${itemId}`);
        const ok = r.status === 201 || r.status === 200;
        say(ok ? "We will tell you once when it is back (inbox, and mail if it is on)." : errorText(r), !ok);
        if (ok) render(true);
      } }, "Notify me when it is back"));
  render(waiting);
}

async function itemPage(id) {
  // Signed in, the item is read on the private route, which counts the view for
  // recommendations; "Customers also bought" comes with it.
  const [r, related] = await Promise.all([
    api("GET", token() ? `/v1/me/items/${id}` : `/v1/items/${id}`),
    api("GET", `/v1/items/${id}/related?limit=5`),
  ]);
  if (r.status !== 200) { show(h("div", { class: "panel" }, errorText(r))); return; }
  const item = r.body;
  const stock = h("div", {}, availability(item.availability));
  const qty = h("select", { "aria-label": "Quantity" }, [1, 2, 3, 4, 5].map(n => h("option", { value: n }, n)));
  const notify = h("div", { class: "actions", "data-test": "restock" });
  // Redrawn only when the item goes in or out of stock, not on every live push.
  let shownInStock = null;
  const showNotify = (inStock) => {
    if (Boolean(inStock) === shownInStock) return;
    shownInStock = Boolean(inStock);
    notifyMe(notify, item.itemId, shownInStock);
  };
  showNotify(item.availability && item.availability.inStock);
  const images = item.images || [];
  const main = h("div", { class: "gallery-main", "data-test": "item-picture" }, picture(images[0], item.name, "(min-width: 760px) 480px, 92vw", true));
  const thumbs = images.length > 1 ? h("div", { class: "thumbs" }, images.map((im, n) =>
    h("button", { type: "button", "aria-label": `Picture ${n + 1} of ${images.length}`, onclick: () => main.replaceChildren(picture(im, item.name, "(min-width: 760px) 480px, 92vw", true)) },
      picture(im, "", "64px", false)))) : null;
  show(h("div", { class: "panel item" },
    h("div", { class: "gallery" }, main, thumbs),
    h("div", {},
    h("h2", {}, item.name),
    h("div", { class: "muted" }, `${item.brand} · ${item.category}`),
    h("div", { class: "price" }, money(item.price)),
    stock,
    h("p", { class: "muted", "data-test": "live-state" }, "Stock updates live."),
    item.description ? h("p", {}, item.description) : null,
    h("ul", {}, Object.entries(item.attributes || {}).map(([k, v]) => h("li", {}, `${k}: ${v}`))),
    h("div", { class: "actions" },
      h("label", {}, "Qty ", qty),
      h("button", { class: "primary", onclick: () => addToCart(item.itemId, Number(qty.value)) }, "Add to cart"),
      h("button", { onclick: () => addToWishlist(item.itemId) }, "♡ Save")),
    notify)),
    itemRow("Customers also bought", related.status === 200 ? related.body.alsoBought : [], "also-bought", false));
  const threshold = item.lowStockThreshold || 0;
  const liveState = document.querySelector('[data-test="live-state"]');
  // Live stock: pushed over the WebSocket API on every change; without it (no liveUrl, or
  // the socket closes) the page revalidates every 5 s (the API answers 304 meanwhile).
  watchLive([id], (m) => {
    stock.replaceChildren(availability({ available: m.available, inStock: m.inStock, lowStock: m.inStock && m.available <= threshold }));
    showNotify(m.inStock);
    stock.setAttribute("data-live", String(m.available));
    liveState.textContent = "Stock updates live (pushed).";
  }, () => {
    timers.push(setInterval(async () => {
      const again = await api("GET", `/v1/items/${id}`);
      if (again.status === 200) stock.replaceChildren(availability(again.body.availability));
    }, 5000));
  });
}

/// Watch `items` over the live-stock WebSocket; `onStock` gets each push. `fallback` runs
/// once if there is no live URL or the socket fails. The socket closes with the page.
function watchLive(items, onStock, fallback, ticket, onQueue) {
  if (!cfg.liveUrl || !window.WebSocket) { if (fallback) fallback(); return null; }
  let fellBack = false;
  const fall = () => { if (!fellBack && fallback) { fellBack = true; fallback(); } };
  const socket = new WebSocket(cfg.liveUrl);
  const watch = ticket ? { action: "watch", items, ticket } : { action: "watch", items };
  socket.onopen = () => socket.send(JSON.stringify(watch));
  socket.onmessage = (e) => {
    let m; try { m = JSON.parse(e.data); } catch (_) { return; }
    if (m.type === "stock") onStock(m);
    if (m.type === "queue" && onQueue) onQueue(m);
  };
  socket.onerror = fall;
  socket.onclose = fall;
  sockets.push(socket);
  return socket;
}

// ------------------------------------------------------------------ cart and checkout

async function cartPage() {
  if (needSignIn()) return;
  const r = await api("GET", "/v1/cart");
  if (r.status !== 200) { show(h("div", { class: "panel" }, errorText(r))); return; }
  const cart = r.body;
  document.getElementById("cart-count").textContent = String(cart.itemCount || 0);
  if (!cart.lines.length) { show(h("div", { class: "panel" }, h("h2", {}, "Your cart"), h("p", {}, "Your cart is empty."))); return; }
  const setQty = async (itemId, quantity) => {
    const u = await api("PUT", `/v1/cart/items/${itemId}`, { quantity });
    if (u.status !== 200) say(errorText(u), true);
    cartPage();
  };
  const problems = { SHORT: "Fewer left than you want", UNAVAILABLE: "No longer available" };
  show(h("div", { class: "panel" },
    h("h2", {}, "Your cart"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("tr", {}, h("th", {}, "Item"), h("th", {}, "Price"), h("th", {}, "Qty"), h("th", {}, "Total"), h("th", {}, "")),
      cart.lines.map(l => h("tr", { "data-test": "cart-line" },
        h("td", {}, h("a", { href: `#/item/${l.itemId}` }, l.name), l.problem ? h("div", { class: "stock-out" }, `${problems[l.problem] || l.problem} (${l.available} left)`) : null),
        h("td", {}, money(l.unitPrice)),
        h("td", {}, h("select", { "aria-label": "Quantity", onchange: (e) => setQty(l.itemId, Number(e.target.value)) },
          Array.from({ length: 11 }, (_, n) => h("option", { value: n, selected: n === l.quantity }, n === 0 ? "Remove" : n)))),
        h("td", {}, money(l.lineTotal)),
        h("td", {}, h("button", { class: "danger", onclick: () => setQty(l.itemId, 0) }, "Remove")))))),
    h("p", { class: "price" }, "Total: ", cart.totals.map(money).join(" + ")),
    h("button", { class: "primary", onclick: () => beginCheckout(cart), "data-test": "checkout" }, "Check out")));
}

async function beginCheckout(cart) {
  const r = await api("POST", "/v1/checkout", undefined, { "Idempotency-Key": key() });
  if (r.status === 202 && r.body && r.body.waitingRoom) { waitingRoomPage(cart, r.body.waitingRoom); return; }
  if (r.status === 201) {
    say("");
    store.setItem(`aisle.checkout.${r.body.checkoutId}`, JSON.stringify(r.body));
    location.hash = `#/checkout/${r.body.checkoutId}`;
    return;
  }
  const e = r.body && r.body.error;
  if (e && e.code === "OUT_OF_STOCK") {
    const names = Object.fromEntries(cart.lines.map(l => [l.itemId, l.name]));
    const lines = (e.details || []).map(s => `${names[s.itemId] || s.itemId} (you wanted ${s.requested}, ${s.available} left)`);
    say(`These lines sold out: ${lines.join("; ")}. Nothing was held; change your cart and try again.`, true);
    document.getElementById("notice").setAttribute("data-test", "sold-out");
    return;
  }
  say(errorText(r), true);
}

/// A hot item's waiting room: the shopper's place and a countdown to their turn, then checkout
/// begins on its own. The server pushes the place again with every stock change (the watch
/// names the ticket); between pushes the page counts down at the room's rate (admissions run
/// at a known rate: no polling). A live push of "sold out" ends the wait at once.
function waitingRoomPage(cart, ticket) {
  let admitAt = new Date(ticket.admitAt).getTime();
  let rate = ticket.position > 0 ? ticket.position / Math.max(1, ticket.estimatedWaitSeconds) : 1;
  const place = h("div", { class: "countdown", "data-test": "queue-position" });
  const note = h("p", { class: "muted" }, "Keep this page open: checkout starts by itself when your turn comes. Your place is kept if you reload.");
  const tick = () => {
    const left = Math.max(0, Math.ceil((admitAt - Date.now()) / 1000));
    const ahead = Math.max(0, Math.ceil(left * rate));
    place.textContent = left > 0 ? `You are in line: about ${ahead} ${ahead === 1 ? "shopper" : "shoppers"} ahead, about ${left} s to go.` : "Your turn: holding your items…";
    if (left === 0 && !done) { done = true; beginCheckout(cart); }
  };
  let done = false;
  show(h("div", { class: "panel", "data-test": "waiting-room" },
    h("h2", {}, "Waiting room"),
    h("p", {}, "This item is in high demand. Shoppers are admitted in the order they arrived; your place is updated live."),
    place, note));
  tick();
  timers.push(setInterval(tick, 1000));
  const soldOut = () => {
    if (done) return;
    done = true;
    place.textContent = "Sold out: every unit has been taken. Nothing was held for you.";
    place.setAttribute("data-test", "queue-sold-out");
  };
  watchLive([ticket.itemId], (m) => { if (m.soldOut) soldOut(); }, null, ticket.ticketId, (q) => {
    if (q.ticketId !== ticket.ticketId) return;
    if (q.soldOut) { soldOut(); return; }
    admitAt = new Date(q.admitAt).getTime();
    if (q.position > 0) rate = q.position / Math.max(1, q.estimatedWaitSeconds);
    place.setAttribute("data-pushed", String(q.position));
    tick();
  });
}

const demoAddress = { name: "Alex Doe", line1: "8000 Penn Ave S", city: "Bloomington", state: "MN", zip: "55425", country: "US" };

function checkoutPage(id) {
  if (needSignIn()) return;
  const saved = store.getItem(`aisle.checkout.${id}`);
  if (!saved) { show(h("div", { class: "panel" }, "This checkout is no longer open here. ", h("a", { href: "#/cart" }, "Back to your cart"))); return; }
  const checkout = JSON.parse(saved);
  const field = (label, name, value, attrs) => h("label", {}, label, h("input", Object.assign({ name, value: value || "", required: name !== "line2" }, attrs)));
  const zip = localStorage.getItem("aisle.zip");
  const address = Object.assign({}, demoAddress, zip ? { zip } : {});
  const clock = h("div", { class: "countdown", "data-test": "countdown" });
  const pay = h("button", { class: "primary", type: "submit", "data-test": "pay" }, `Pay ${money(checkout.total)}`);
  const form = h("form", { class: "form", onsubmit: (e) => { e.preventDefault(); submitOrder(checkout, form, pay); } },
    h("h3", {}, "Ship to"),
    field("Full name", "name", address.name),
    field("Address", "line1", address.line1),
    field("Apartment, suite (optional)", "line2", ""),
    h("div", { class: "row" }, field("City", "city", address.city), field("State", "state", address.state, { maxlength: 2 }), field("ZIP", "zip", address.zip, { maxlength: 10 })),
    h("h3", {}, "Card"),
    cardFields(field),
    h("label", {}, h("span", {}, h("input", { type: "checkbox", name: "saveAddress", checked: true, "data-test": "save-address" }), " Make this my default address (delivery dates in search)")),
    h("p", { class: "muted" }, cfg.signIn === "dev" ? "Test cards: 4242… pays, 4000 0000 0000 0341 is declined, 4000 0025 0000 3155 asks for 3-D Secure." : "Card details go to Stripe, never to Aisle."),
    h("div", { class: "actions" }, pay, h("button", { type: "button", class: "danger", onclick: () => cancelCheckout(id) }, "Cancel checkout")));
  const tick = () => {
    const left = Math.max(0, Math.round((new Date(checkout.expiresAt) - Date.now()) / 1000));
    clock.textContent = left > 0 ? `Your items are held for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : "Your hold has expired; the items are back on sale.";
    clock.className = "countdown" + (left < 60 ? " urgent" : "");
    if (left === 0) pay.disabled = true;
  };
  show(h("div", { class: "panel" },
    h("h2", {}, "Checkout"), clock,
    h("ul", {}, checkout.lines.map(l => h("li", {}, `${l.quantity} × ${l.name} — ${money(l.unitPrice)}`))),
    h("p", { class: "price" }, `Total ${money(checkout.total)}`),
    form));
  // After show(), which stops the previous page's timers.
  tick();
  timers.push(setInterval(tick, 1000));
}

let cardElement = null;
let stripeClient = null;
function stripeJs() {
  if (!stripeClient && window.Stripe && cfg.stripeKey) stripeClient = window.Stripe(cfg.stripeKey);
  return stripeClient;
}

// Locally the card is typed into plain fields (test cards only, sent to localstripe by the
// storefront server); deployed, Stripe's own card Element takes it, inside Stripe's frame.
function cardFields(field) {
  if (cfg.signIn === "dev") {
    return h("div", {},
      field("Card number", "card", "4242 4242 4242 4242", { inputmode: "numeric", autocomplete: "cc-number", "data-test": "card" }),
      h("div", { class: "row" }, field("Expiry month", "expMonth", "12", { inputmode: "numeric" }), field("Expiry year", "expYear", "2034", { inputmode: "numeric" }), field("CVC", "cvc", "123", { inputmode: "numeric" })));
  }
  const mount = h("div", { class: "panel", id: "card-element" });
  if (stripeJs()) {
    cardElement = stripeJs().elements().create("card");
    setTimeout(() => cardElement.mount(mount), 0);
  }
  return mount;
}

async function paymentMethod(card) {
  if (cfg.signIn === "dev") {
    const r = await fetch("/_dev/payment-method", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(card) });
    const answer = await r.json().catch(() => ({}));
    return r.ok ? { id: answer.id } : { error: (answer.error && answer.error.message) || "The card was refused." };
  }
  // Deployed: Stripe.js tokenises the card in the browser; Aisle only sees the pm_… id.
  if (!stripeJs() || !cardElement) return { error: "Payments are not configured." };
  const result = await stripeJs().createPaymentMethod({ type: "card", card: cardElement });
  return result.error ? { error: result.error.message } : { id: result.paymentMethod.id };
}

async function submitOrder(checkout, form, pay) {
  const data = Object.fromEntries(new FormData(form));
  pay.disabled = true;
  say("Paying…");
  const pm = await paymentMethod({ number: (data.card || "").replace(/\s+/g, ""), expMonth: data.expMonth, expYear: data.expYear, cvc: data.cvc });
  if (pm.error) { pay.disabled = false; return say(pm.error, true); }
  const shippingAddress = { name: data.name, line1: data.line1, city: data.city, state: data.state.toUpperCase(), zip: data.zip, country: "US" };
  if (data.line2) shippingAddress.line2 = data.line2;
  const attempt = key();
  let r = await api("POST", `/v1/checkout/${checkout.checkoutId}/order`, { paymentToken: pm.id, shippingAddress }, { "Idempotency-Key": attempt });
  if (r.status === 0 || r.status === 503) {
    // No answer: the same key again is safe (the first answer is replayed, never a second charge).
    r = await api("POST", `/v1/checkout/${checkout.checkoutId}/order`, { paymentToken: pm.id, shippingAddress }, { "Idempotency-Key": attempt });
  }
  if ((r.status === 201 || r.status === 202) && data.saveAddress) {
    await api("PUT", "/v1/me/address", shippingAddress);
  }
  if (r.status === 201 || (r.status === 202 && !r.body.nextAction)) {
    store.removeItem(`aisle.checkout.${checkout.checkoutId}`);
    say(r.status === 201 ? "Thank you: your order is placed." : "Your payment is being confirmed; we will update the order.");
    refreshCartCount();
    location.hash = `#/order/${r.body.orderId}`;
    return;
  }
  if (r.status === 202 && r.body.nextAction) return authenticate(checkout, r.body);
  pay.disabled = false;
  const e = r.body && r.body.error;
  if (r.status === 402) return say(`Your card was declined (${(e.details && e.details.reason) || "declined"}). Your items are still held: try another card.`, true);
  say(errorText(r), true);
}

function authenticate(checkout, order) {
  const answer = async (success) => {
    if (cfg.signIn === "dev") {
      await fetch("/_dev/authenticate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ clientSecret: order.nextAction.clientSecret, success }) });
    } else if (stripeJs()) {
      await stripeJs().handleNextAction({ clientSecret: order.nextAction.clientSecret });
    }
    store.removeItem(`aisle.checkout.${checkout.checkoutId}`);
    location.hash = `#/order/${order.orderId}`;
  };
  show(h("div", { class: "panel" },
    h("h2", {}, "Your bank asks you to confirm this payment"),
    h("p", {}, `Order total ${money(order.total)}. Your items stay held while you confirm.`),
    h("div", { class: "actions" }, h("button", { class: "primary", onclick: () => answer(true), "data-test": "3ds-confirm" }, "Confirm payment"), h("button", { onclick: () => answer(false) }, "Cancel"))));
}

async function cancelCheckout(id) {
  const r = await api("DELETE", `/v1/checkout/${id}`);
  store.removeItem(`aisle.checkout.${id}`);
  say(r.status === 200 ? "Checkout cancelled; the items are back on sale." : errorText(r), r.status !== 200);
  location.hash = "#/cart";
}

// ------------------------------------------------------------------ orders

const cancellable = ["PAYMENT_PENDING", "PLACED", "PROCESSING", "BACKORDERED"];
const returnable = ["DELIVERED", "RETURN_REQUESTED", "PARTIALLY_REFUNDED"];

async function ordersPage() {
  if (needSignIn()) return;
  const r = await api("GET", "/v1/orders?limit=50");
  if (r.status !== 200) { show(h("div", { class: "panel" }, errorText(r))); return; }
  show(h("div", { class: "panel" }, h("h2", {}, "Your orders"),
    r.body.items.length ? h("div", { class: "table-wrap" }, h("table", {},
      h("tr", {}, h("th", {}, "Placed"), h("th", {}, "Status"), h("th", {}, "Items"), h("th", {}, "Total")),
      r.body.items.map(o => h("tr", { "data-test": "order-row" },
        h("td", {}, h("a", { href: `#/order/${o.orderId}` }, when(o.createdAt))),
        h("td", {}, h("span", { class: "status", "data-test": "order-status" }, o.status)),
        h("td", {}, o.lines.map(l => `${l.quantity} × ${l.name}`).join(", ")),
        h("td", {}, money(o.total)))))) : h("p", {}, "No orders yet.")));
}

async function orderPage(id) {
  if (needSignIn()) return;
  const r = await api("GET", `/v1/orders/${id}`);
  if (r.status !== 200) { show(h("div", { class: "panel" }, errorText(r))); return; }
  const o = r.body;
  const act = async (method, path, body, done) => {
    const a = await api(method, path, body);
    const ok = a.status === 200 || a.status === 201;
    say(ok ? done : errorText(a), !ok);
    orderPage(id);
  };
  const canCancel = cancellable.includes(o.status);
  // Units neither refunded nor already authorised for return (what the shop lets you return).
  const returned = {};
  const count = (lines, sign) => (lines || []).forEach(x => { returned[x.itemId] = (returned[x.itemId] || 0) + sign * x.quantity; });
  count(o.returned, 1);
  (o.returns || []).forEach(r => { count(r.lines, 1); count(r.received, -1); });
  const lines = o.lines.map(l => h("tr", { "data-test": "order-line" },
    h("td", {}, l.name), h("td", {}, l.quantity), h("td", {}, money(l.unitPrice)),
    h("td", {},
      canCancel && o.lines.length > 1 ? h("button", { class: "danger", "data-test": "cancel-line", onclick: () => act("POST", `/v1/orders/${id}/lines/${l.itemId}/cancel`, { reason: "changed my mind" }, `${l.name} is cancelled; its amount is refunded.`) }, "Cancel this item") : null,
      returnable.includes(o.status) && l.quantity - (returned[l.itemId] || 0) > 0
        ? h("button", { "data-test": "return-line", onclick: () => act("POST", `/v1/orders/${id}/returns`, { lines: [{ itemId: l.itemId, quantity: l.quantity - (returned[l.itemId] || 0) }], reason: "not as expected" }, "Return authorised: print the label below, send the parcel; we refund when it arrives.") }, "Return") : null)));
  show(h("div", { class: "panel" },
    h("h2", {}, "Order ", h("span", { class: "status", "data-test": "order-status" }, o.status)),
    h("p", { class: "muted" }, `Placed ${when(o.createdAt)} · ${money(o.total)} · payment ${o.payment}`),
    o.eta ? h("p", { "data-test": "eta" }, `Arrives by ${day(o.eta)}`) : null,
    h("div", { class: "table-wrap" }, h("table", {}, h("tr", {}, h("th", {}, "Item"), h("th", {}, "Qty"), h("th", {}, "Price"), h("th", {}, "")), lines)),
    (o.cancelledLines || []).length ? h("p", { class: "muted" }, "Cancelled: ", o.cancelledLines.map(c => `${c.quantity} × ${c.itemId.slice(0, 8)} (${c.reason})`).join(", ")) : null,
    (o.returns || []).length ? h("div", {}, h("h3", {}, "Returns"), h("ul", {}, o.returns.map(r => h("li", { "data-test": "return" },
      `${r.state}: ${r.lines.map(l => `${l.quantity} × ${l.itemId.slice(0, 8)}`).join(", ")} · send to ${r.label.returnTo} · label `,
      h("code", { "data-test": "return-label" }, r.label.barcode))))) : null,
    (o.reviews || []).filter(v => v.state === "PENDING").length ? h("p", { class: "muted", "data-test": "return-review" },
      "Some returned units are being checked by the seller before a refund.") : null,
    (o.shipments || []).length ? h("div", {}, h("h3", {}, "Parcels"), h("ul", {}, o.shipments.map(s => h("li", { "data-test": "parcel" },
      `From ${s.warehouseId}: ${s.state}`, s.trackingNumber ? ` · tracking ${s.trackingNumber}` : "", s.eta ? ` · arrives ${day(s.eta)}` : "")))) : null,
    h("h3", {}, "History"),
    h("ol", { class: "timeline" }, (o.timeline || []).map(t => h("li", {}, `${t.status} — ${when(t.at)}`, t.note ? ` (${t.note})` : ""))),
    canCancel ? h("button", { class: "danger", "data-test": "cancel-order", onclick: () => act("POST", `/v1/orders/${id}/cancel`, undefined, "Your order is cancelled and refunded.") }, "Cancel order") : null));
}

// ------------------------------------------------------------------ wishlist

async function wishlistPage() {
  if (needSignIn()) return;
  const [r, alerts] = await Promise.all([api("GET", "/v1/wishlist"), restockAlerts()]);
  if (r.status !== 200) { show(h("div", { class: "panel" }, errorText(r))); return; }
  const act = async (method, path, done) => {
    const a = await api(method, path);
    say(a.status === 200 ? done : errorText(a), a.status !== 200);
    refreshCartCount();
    wishlistPage();
  };
  show(h("div", { class: "panel" }, h("h2", {}, "Your wishlist"),
    r.body.items.length ? h("div", { class: "table-wrap" }, h("table", {},
      r.body.items.map(w => h("tr", { "data-test": "wish" },
        h("td", {}, h("a", { href: `#/item/${w.itemId}` }, w.name || w.itemId)),
        h("td", {}, money(w.price)),
        h("td", {}, w.available > 0 ? `${w.available} in stock` : h("span", { class: "stock-out" }, "Sold out")),
        h("td", {}, h("div", { class: "actions" },
          h("button", { class: "primary", disabled: !(w.available > 0), onclick: () => act("POST", `/v1/wishlist/items/${w.itemId}/move-to-cart`, "Moved to your cart."), "data-test": "move-to-cart" }, "Move to cart"),
          w.available > 0 ? null : alerts.has(w.itemId)
            ? h("button", { onclick: () => act("DELETE", `/v1/me/restock-alerts/${w.itemId}`, "You will not be told."), "data-test": "wish-notify-off" }, "Stop notifying")
            : h("button", { onclick: async () => {
                const a = await api("PUT", `/v1/me/restock-alerts/${w.itemId}`);
                const ok = a.status === 201 || a.status === 200;
                say(ok ? "We will tell you once when it is back." : errorText(a), !ok);
                wishlistPage();
              }, "data-test": "wish-notify-me" }, "Notify me"),
          h("button", { class: "danger", onclick: () => act("DELETE", `/v1/wishlist/items/${w.itemId}`, "Removed.") }, "Remove"))))))) : h("p", {}, "Nothing saved yet.")));
}

// ------------------------------------------------------------------ seller

async function sellerPage() {
  if (needSignIn()) return;
  if (role() !== "seller") { show(h("div", { class: "panel" }, "Seller pages are for seller accounts.")); return; }
  const [items, notes] = await Promise.all([api("GET", "/v1/seller/items?limit=100"), api("GET", "/v1/seller/notifications?limit=20")]);
  const input = (label, name, attrs) => h("label", {}, label, h("input", Object.assign({ name, required: true }, attrs)));
  const form = h("form", { class: "form", "data-test": "new-item", onsubmit: async (e) => {
    e.preventDefault();
    const d = Object.fromEntries(new FormData(form));
    const body = { name: d.name, description: d.description || undefined, category: d.category, brand: d.brand,
      price: { amount: Math.round(Number(d.price) * 100), currency: "USD" }, lowStockThreshold: Number(d.threshold) };
    const r = await api("POST", "/v1/seller/items", body);
    say(r.status === 201 ? `Listed “${r.body.name}”.` : errorText(r), r.status !== 201);
    if (r.status === 201) sellerPage();
  } },
    h("h3", {}, "List a product"),
    input("Name", "name", { maxlength: 200, "data-test": "item-name" }),
    h("label", {}, "Description", h("textarea", { name: "description", rows: 2 })),
    h("div", { class: "row" }, input("Category", "category", { value: "kitchen", pattern: "[a-z0-9][a-z0-9\\-]*" }), input("Brand", "brand", { value: "Acme" })),
    h("div", { class: "row" }, input("Price (USD)", "price", { type: "number", min: "0.01", step: "0.01", value: "29.99", "data-test": "item-price" }), input("Low-stock alert below", "threshold", { type: "number", min: "0", value: "3" })),
    h("div", {}, h("button", { class: "primary", type: "submit", "data-test": "list-item" }, "List it")));
  const edit = (item) => async () => {
    const name = prompt("Name", item.name);
    if (name === null) return;
    const price = prompt("Price (USD)", (item.price.amount / 100).toFixed(2));
    if (price === null) return;
    const r = await api("PATCH", `/v1/seller/items/${item.itemId}`, { name, price: { amount: Math.round(Number(price) * 100), currency: item.price.currency } }, { "If-Match": `"${item.version}"` });
    say(r.status === 200 ? "Saved." : errorText(r), r.status !== 200);
    sellerPage();
  };
  const list = items.status === 200 ? items.body.items : [];
  const kinds = { LOW_STOCK: "Low stock", BACK_IN_STOCK: "Back in stock", STOCK_SHORTFALL: "Units lost", RETURN_REVIEW: "Return to review", NEW_ORDER: "New order", IMAGE_REFUSED: "Image refused" };
  const names = Object.fromEntries(list.map(i => [i.itemId, i.name]));
  show(h("div", { class: "layout" },
    h("section", { class: "panel" }, form),
    h("section", {},
      h("div", { class: "panel" }, h("h2", {}, "Your products"),
        list.length ? h("div", { class: "table-wrap" }, h("table", {},
          h("tr", {}, h("th", {}, "Product"), h("th", {}, "Price"), h("th", {}, "Stock"), h("th", {}, "")),
          list.map(i => h("tr", { "data-test": "seller-item", "data-item": i.itemId },
            h("td", {}, h("a", { href: `#/item/${i.itemId}` }, i.name)),
            h("td", {}, money(i.price)),
            h("td", {}, availability(i.availability), i.availability.lowStock ? h("div", { class: "stock-low" }, `below ${i.lowStockThreshold}`) : null),
            h("td", {}, h("button", { onclick: edit(i) }, "Edit"), " ", h("button", { onclick: () => imagesPanel(i), "data-test": "manage-images" }, "Images")))))) : h("p", {}, "Nothing listed yet.")),
      h("div", { class: "panel" }, h("h2", {}, "Orders and stock alerts"),
        notes.status === 200 && notes.body.items.length ? h("ul", {}, notes.body.items.map(n => h("li", { "data-test": "seller-notice" },
          h("strong", {}, kinds[n.kind] || n.kind), ` — ${names[n.itemId] || n.itemId}`,
          n.available !== undefined ? `: ${n.available} left` : "",
          n.kind === "IMAGE_REFUSED" ? `: ${n.reason}` :
          n.kind === "NEW_ORDER" ? `: ${(n.lines || []).map(l => `${l.quantity} × ${names[l.itemId] || l.itemId}`).join(", ")}` : n.units ? `: ${n.units} units ${n.kind === "RETURN_REVIEW" ? "held" : "lost"} at ${n.warehouseId}` : "",
          h("span", { class: "muted" }, ` · ${when(n.at)}`)))) : h("p", {}, "No alerts.")))));
}

/// A seller's images of one item: upload (the file goes straight to S3 with a signed form,
/// then the page waits for the item to list it or for the refusal's reason), reorder, delete.
async function imagesPanel(item) {
  const r = await api("GET", `/v1/items/${item.itemId}`);
  if (r.status !== 200) { say(errorText(r), true); return; }
  const current = r.body;
  const ids = (current.images || []).map(i => i.imageId);
  const save = async (next, done) => {
    const s = await api("PATCH", `/v1/seller/items/${item.itemId}`, { images: next });
    say(s.status === 200 ? done : errorText(s), s.status !== 200);
    imagesPanel(item);
  };
  const move = (n, by) => { const next = ids.slice(); [next[n], next[n + by]] = [next[n + by], next[n]]; save(next, "Order saved."); };
  const file = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", "data-test": "image-file", "aria-label": "Image file" });
  const status = h("p", { class: "muted", "data-test": "upload-status", role: "status" });
  const upload = async () => {
    const f = file.files[0];
    if (!f) { status.textContent = "Choose a JPEG, PNG or WebP file first."; return; }
    status.textContent = "Uploading…";
    const offer = await api("POST", `/v1/seller/items/${item.itemId}/images`);
    if (offer.status !== 201) { status.textContent = errorText(offer); return; }
    const form = new FormData();
    for (const [k, v] of Object.entries(offer.body.upload.fields)) form.append(k, v);
    form.append("Content-Type", f.type || "application/octet-stream");
    form.append("file", f);
    let sent;
    try { sent = await fetch(offer.body.upload.url, { method: "POST", body: form }); }
    catch (e) { status.textContent = `The upload did not reach storage: ${e.message}`; return; }
    if (!sent.ok) {
      const xml = await sent.text();
      const m = /<Message>([^<]*)<\/Message>/.exec(xml);
      status.textContent = `Refused: ${m ? m[1] : sent.status}`;
      status.setAttribute("data-test", "upload-refused");
      return;
    }
    status.textContent = "Checking the image…";
    const imageId = offer.body.imageId;
    for (let tries = 0; tries < 60; tries++) {
      await new Promise(done => setTimeout(done, 1000));
      const again = await api("GET", `/v1/items/${item.itemId}`);
      if (again.status === 200 && (again.body.images || []).some(i => i.imageId === imageId)) {
        say("Image added.");
        imagesPanel(item);
        return;
      }
      const notes = await api("GET", "/v1/seller/notifications?limit=20");
      const refusal = notes.status === 200 && notes.body.items.find(n => n.kind === "IMAGE_REFUSED" && n.imageId === imageId);
      if (refusal) {
        status.textContent = `Refused: ${refusal.reason}`;
        status.setAttribute("data-test", "upload-refused");
        return;
      }
    }
    status.textContent = "Still checking; look again in a minute.";
  };
  const panel = h("div", { class: "panel", "data-test": "item-images", "data-item": item.itemId },
    h("h2", {}, `Images of “${current.name}”`),
    ids.length ? h("ol", { class: "image-list" }, (current.images || []).map((im, n) => h("li", { "data-test": "seller-image", "data-image": im.imageId },
      picture(im, `Image ${n + 1}`, "96px", true),
      h("div", { class: "actions" },
        n > 0 ? h("button", { type: "button", onclick: () => move(n, -1) }, "Move up") : null,
        n < ids.length - 1 ? h("button", { type: "button", onclick: () => move(n, 1) }, "Move down") : null,
        h("button", { type: "button", class: "danger", "data-test": "delete-image", onclick: () => save(ids.filter(x => x !== im.imageId), "Image deleted.") }, "Delete"))))) : h("p", {}, "No images yet."),
    h("div", { class: "actions" }, file, h("button", { type: "button", class: "primary", onclick: upload, "data-test": "upload-image" }, "Upload")),
    h("p", { class: "muted" }, "JPEG, PNG or WebP; up to 10 MB and 40 megapixels. Up to 10 images; the first is the main one."),
    status);
  show(h("div", {}, h("p", {}, h("button", { type: "button", onclick: () => sellerPage() }, "← Your products")), panel));
}

// ------------------------------------------------------------------ notifications

async function refreshUnread() {
  const badge = document.getElementById("inbox-count");
  if (!token()) { badge.textContent = ""; return; }
  const page = await api("GET", "/v1/me/notifications?limit=20");
  if (page.status !== 200) return;
  const unread = page.body.items.filter(n => n.unread).length;
  badge.textContent = unread ? String(unread) : "";
}

async function inboxPage() {
  if (needSignIn()) return;
  const [page, settings] = await Promise.all([api("GET", "/v1/me/notifications?limit=50"), api("GET", "/v1/me/notification-settings")]);
  if (page.status !== 200) { show(h("div", { class: "panel" }, errorText(page))); return; }
  const s = settings.status === 200 ? settings.body : {};
  const optional = h("input", { type: "checkbox", id: "back-in-stock-mail", checked: s.backInStockMail !== false, "data-test": "back-in-stock-mail" });
  optional.onchange = async () => {
    const r = await api("PUT", "/v1/me/notification-settings", { backInStockMail: optional.checked });
    say(r.status === 200 ? "Saved." : errorText(r), r.status !== 200);
  };
  show(h("div", { class: "panel" }, h("h2", {}, "Notifications"),
    page.body.items.length ? h("ul", { class: "notices", "data-test": "inbox" },
      page.body.items.map(n => h("li", { "data-test": "notice", class: n.unread ? "unread" : "" },
        n.unread ? h("strong", {}, "New: ") : null,
        h("a", { href: n.orderId ? `#/order/${n.orderId}` : `#/item/${n.itemId}` }, n.title),
        n.refund ? ` (${money(n.refund)} refunded)` : "",
        h("span", { class: "muted" }, ` · ${when(n.at)}`)))) : h("p", {}, "Nothing yet: we tell you here (and by mail) when your orders move."),
    h("h3", {}, "Mail"),
    h("p", {}, s.email ? `Mail goes to ${s.email}.` : "No verified address yet: sign in with an account whose address is verified to get mail."),
    h("p", {}, "Order mail (placed, shipped, delivered, refunds) is always sent: it is your receipt."),
    h("label", {}, optional, " Mail me when an item I asked about is back in stock")));
  // Seen: everything shown is read from now on.
  if (page.body.items.some(n => n.unread)) await api("PUT", "/v1/me/notification-settings", { markRead: true });
  document.getElementById("inbox-count").textContent = "";
}

// The local shop's mailbox (make dev only): what SES was asked to send, as the shopper's
// mail client would show it.
async function mailboxPage() {
  if (cfg.signIn !== "dev") { show(h("div", { class: "panel" }, "The dev mailbox exists only in make dev.")); return; }
  const r = await fetch("/_dev/mailbox").then(x => x.json()).catch(() => ({ mails: [] }));
  const mails = r.mails || [];
  const reader = h("div", { class: "mail-reader" });
  const open = (m) => {
    const frame = h("iframe", { title: `Mail: ${m.subject}`, sandbox: "", class: "mail-html" });
    // The sandbox keeps the mail's document from the page's (no scripts, no origin).
    frame.srcdoc = m.html;
    // A mail client's one-click unsubscribe (RFC 8058): a POST to the header's URL.
    const url = (m.listUnsubscribe || "").replace(/^<|>$/g, "");
    const oneClick = url ? h("button", { type: "button", "data-test": "one-click-unsubscribe", onclick: async () => {
      const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" }).catch(() => null);
      say(r && r.ok ? "Unsubscribed, as a mail client's one-click button would." : "The unsubscribe did not go through.", !(r && r.ok));
    } }, "Unsubscribe (one click)") : null;
    reader.replaceChildren(h("h3", {}, m.subject), h("p", { class: "muted" }, `From ${m.from} to ${m.to.join(", ")}`), oneClick, frame,
      h("details", {}, h("summary", {}, "Plain text"), h("pre", {}, m.text)));
  };
  // As a mail client: the list beside the open message (one column on a phone).
  show(h("div", { class: "panel" }, h("h2", {}, "Dev mailbox"),
    mails.length ? h("div", { class: "mailbox" },
      h("ul", { class: "notices mail-list", "data-test": "mailbox" }, mails.map(m => h("li", { "data-test": "mail" },
        h("button", { type: "button", class: "link", onclick: () => open(m) }, m.subject), h("div", { class: "muted" }, `to ${m.to.join(", ")}`)))),
      reader) : h("p", {}, "No mail sent yet.")));
  if (mails.length) open(mails[0]);
}

// The page a mail's "stop" link opens: a GET never unsubscribes (link scanners follow
// links); the shopper confirms with a button, which POSTs as the one-click header does.
function unsubscribePage(query) {
  const t = new URLSearchParams(query || "").get("token") || "";
  const button = h("button", { class: "primary", "data-test": "unsubscribe", onclick: async () => {
    const r = await api("POST", `/v1/unsubscribe/${encodeURIComponent(t)}`);
    say(r.status === 200 ? "Done: no more back-in-stock mail. Order mail still comes." : errorText(r), r.status !== 200);
    if (r.status === 200) button.disabled = true;
  } }, "Stop back-in-stock mail");
  show(h("div", { class: "panel" }, h("h2", {}, "Back-in-stock mail"),
    h("p", {}, "You get a mail when an item you asked about is back in stock. Order mail (placed, shipped, refunds) is your receipt and is always sent."),
    t ? button : h("p", {}, "This link has no token: open it from the mail again.")));
}

// ------------------------------------------------------------------ routing

async function route() {
  // A message said just before this navigation (an action's outcome) stays for the new page.
  if (Date.now() - saidAt > 1500) say("");
  const hash = location.hash || "#/";
  const [path, query] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  switch (parts[0]) {
    case undefined: return homePage();
    case "search": return searchPage(query || "");
    case "item": return itemPage(parts[1]);
    case "cart": return cartPage();
    case "checkout": return checkoutPage(parts[1]);
    case "orders": return ordersPage();
    case "order": return orderPage(parts[1]);
    case "wishlist": return wishlistPage();
    case "seller": return sellerPage();
    case "inbox": return inboxPage();
    case "mailbox": return mailboxPage();
    case "unsubscribe": return unsubscribePage(query);
    case "signin": return signInPage();
    default: show(h("div", { class: "panel" }, "No such page. ", h("a", { href: "#/" }, "Go to the shop")));
  }
}

window.addEventListener("hashchange", route);
cognitoReturn().finally(() => { header(); route(); });
