//! `GET /v1/items` (public): search and browse the catalogue.
//!
//! Query parameters: `q` (words, typos forgiven), `category`, `brand`, `minPrice`/`maxPrice`
//! (minor units, inclusive), `inStock=true`, `attr.<name>=<value>` (any number of names),
//! `sort=relevance|price_asc|price_desc|newest|delivery` (default: relevance with `q`, newest
//! without), `limit` (1-100, default 20), `cursor` (from the previous page).
//!
//! Delivery: `zip=55425` adds to every hit when it would arrive there (`delivery`);
//! `deliverableBy=YYYY-MM-DD` (needs `zip`) keeps what can arrive by then; `sort=delivery`
//! (needs `zip`) orders by arrival date; `deliverable=true` leaves out items no warehouse can
//! ship.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};

use super::{finish, json, ApiError, HttpResult};
use crate::domain::search::{words, MAX_QUERY_CHARS, MAX_QUERY_WORDS};
use crate::domain::{
    Category, FieldError, PageRequest, SearchCursor, SearchQuery, SortOrder, ValidationErrors, Zip,
};
use crate::usecases::search::{self, DeliveryAsk, DeliveryCursor};
use crate::App;

/// The most `attr.*` filters one search may carry.
const MAX_ATTRIBUTE_FILTERS: usize = 10;

/// A parsed `GET /v1/items`.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// What the index is asked.
    pub query: SearchQuery,
    /// `deliverable=true`.
    pub deliverable_only: bool,
    /// `zip` and what goes with it.
    pub delivery: Option<DeliveryAsk>,
}

/// Parse the query string into a search, reporting every bad parameter at once.
pub fn parse_search(params: &[(String, String)]) -> Result<SearchRequest, ApiError> {
    let mut errors = ValidationErrors::default();
    let mut query = SearchQuery::all();
    let mut sort = None;
    let mut cursor = None;
    let mut zip = None;
    let mut by = None;
    let mut by_delivery = false;
    let mut deliverable_only = false;
    let mut seen = std::collections::HashSet::new();
    for (name, value) in params {
        if !seen.insert(name.as_str()) {
            return Err(ApiError::bad_request(
                "REPEATED_QUERY_PARAMETER",
                format!("'{name}' given more than once"),
            ));
        }
        // Any bound past the largest price selects the same items, so bounds are clamped
        // there: no backend ever sees a number beyond its integer range.
        let price = |raw: &str| {
            let ceiling = crate::domain::Money::MAX_AMOUNT as u64 + 1;
            match raw.parse::<u64>() {
                Ok(n) if n <= i64::MAX as u64 => Ok(n.min(ceiling)),
                Ok(_) => Err(format!("must be at most {}", i64::MAX)),
                Err(_) if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) => {
                    Err(format!("must be at most {}", i64::MAX))
                }
                Err(_) => Err("must be a whole number of minor units".to_owned()),
            }
        };
        match name.as_str() {
            "q" => {
                let parsed = if value.chars().count() > MAX_QUERY_CHARS {
                    Err(format!("at most {MAX_QUERY_CHARS} characters"))
                } else {
                    let found = words(value);
                    if found.len() > MAX_QUERY_WORDS {
                        Err(format!("at most {MAX_QUERY_WORDS} words"))
                    } else {
                        Ok(found)
                    }
                };
                query.words = errors.check("q", parsed).unwrap_or_default();
            }
            "category" => query.category = errors.check("category", Category::try_from(value.clone())),
            "brand" => {
                let brand = value.trim().to_lowercase();
                let parsed = if (1..=100).contains(&brand.chars().count()) {
                    Ok(brand)
                } else {
                    Err("must be 1-100 characters".to_owned())
                };
                query.brand = errors.check("brand", parsed);
            }
            "minPrice" => query.min_price = errors.check("minPrice", price(value)),
            "maxPrice" => query.max_price = errors.check("maxPrice", price(value)),
            "inStock" => {
                let parsed = match value.as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err("must be true or false".to_owned()),
                };
                query.in_stock_only = errors.check("inStock", parsed).unwrap_or(false);
            }
            "sort" if value == "delivery" => by_delivery = true,
            "sort" => sort = errors.check("sort", SortOrder::try_from(value.as_str())),
            "zip" => zip = errors.check("zip", Zip::try_from(value.as_str())),
            "deliverableBy" => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                let parsed = time::Date::parse(value, &format)
                    .map_err(|_| "must be a date, YYYY-MM-DD".to_owned());
                by = errors.check("deliverableBy", parsed);
            }
            "deliverable" => {
                let parsed = match value.as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err("must be true or false".to_owned()),
                };
                deliverable_only = errors.check("deliverable", parsed).unwrap_or(false);
            }
            "limit" => {
                let parsed = PageRequest::parse(Some(value), None).map(|p| p.limit);
                query.limit = errors.check("limit", parsed).unwrap_or(query.limit);
            }
            "cursor" => cursor = Some(value.clone()),
            other => match other.strip_prefix("attr.") {
                Some(attribute) => {
                    let valid_name = (1..=40).contains(&attribute.len())
                        && attribute
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    let value = value.trim().to_lowercase();
                    if !valid_name || value.is_empty() || value.chars().count() > 200 {
                        errors.0.push(FieldError::new(
                            other,
                            "attribute filters are attr.<name>=<value> with a name of 1-40 [A-Za-z0-9_-] and a value of 1-200 characters",
                        ));
                    } else {
                        query.attributes.push((attribute.to_lowercase(), value));
                    }
                }
                None => {
                    return Err(ApiError::bad_request(
                        "UNKNOWN_QUERY_PARAMETER",
                        format!(
                            "unknown query parameter '{other}'; allowed: q, category, brand, minPrice, maxPrice, inStock, attr.<name>, zip, deliverableBy, deliverable, sort, limit, cursor"
                        ),
                    ))
                }
            },
        }
    }
    if query.attributes.len() > MAX_ATTRIBUTE_FILTERS {
        errors.0.push(FieldError::new(
            "attr",
            format!("at most {MAX_ATTRIBUTE_FILTERS} attribute filters"),
        ));
    }
    if let (Some(min), Some(max)) = (query.min_price, query.max_price) {
        if min > max {
            errors
                .0
                .push(FieldError::new("minPrice", "must not exceed maxPrice"));
        }
    }
    query.attributes.sort();
    query.sort = sort.unwrap_or(if query.words.is_empty() {
        SortOrder::Newest
    } else {
        SortOrder::Relevance
    });
    let has_zip = params.iter().any(|(name, _)| name == "zip");
    if !has_zip && (by.is_some() || by_delivery) {
        let field = if by_delivery { "sort" } else { "deliverableBy" };
        errors.0.push(FieldError::new(
            field,
            "needs zip: delivery dates depend on where to",
        ));
    }
    if by_delivery && sort.is_some() {
        errors
            .0
            .push(FieldError::new("sort", "given more than once"));
    }
    let mut after = None;
    if let Some(raw) = cursor {
        if by_delivery {
            after = errors.check("cursor", DeliveryCursor::decode(&raw, query.sort));
        } else {
            query.after = errors.check("cursor", SearchCursor::decode(&raw, query.sort));
        }
    }
    if !errors.0.is_empty() {
        return Err(ApiError::invalid_query(errors));
    }
    Ok(SearchRequest {
        query,
        deliverable_only,
        delivery: zip.map(|zip| DeliveryAsk {
            zip,
            by,
            sorted: by_delivery,
            after,
        }),
    })
}

/// The route that searches for a signed-in shopper (same parameters; without `zip`, their
/// saved default address's ZIP gives the delivery dates).
pub const SIGNED_IN_ROUTE: &str = "GET /v1/me/items";

/// `GET /v1/items` (public) and `GET /v1/me/items` (signed in): one function, two routes.
/// The public route cannot see who is signed in (it has no authorizer, so API Gateway passes
/// no claims); a signed-in storefront calls the second, whose answer is private.
pub async fn search_items(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let mut params: Vec<(String, String)> = req
                .query_string_parameters_ref()
                .map(|p| {
                    p.iter()
                        .flat_map(|(name, _)| {
                            p.all(name)
                                .unwrap_or_default()
                                .into_iter()
                                .map(move |v| (name.to_owned(), v.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let signed_in = super::request::route_key(&req).as_deref() == Some(SIGNED_IN_ROUTE);
            let mut shopper = None;
            if signed_in {
                let who = super::request::principal(&req)?;
                shopper = Some(who.user_id.clone());
                if !params.iter().any(|(name, _)| name == "zip") {
                    let saved =
                        crate::ports::Addresses::default_address(&app.carts, &who.user_id).await?;
                    // A saved ZIP no warehouse serves just means no dates, not a bad request.
                    if let Some(zip) = saved.filter(|a| Zip::try_from(a.zip5()).is_ok()) {
                        params.push(("zip".into(), zip.zip5().to_owned()));
                    }
                }
            }
            let request = parse_search(&params)?;
            let delivery = app.delivery.get(&app.warehouses).await?;
            let context = search::SearchContext {
                delivery: &delivery,
                now: app.clock.now(),
            };
            let page = search::search(
                app.search.index()?,
                &app.inventory,
                &app.search_cache,
                context,
                &request.query,
                request.deliverable_only,
                request.delivery.as_ref(),
            )
            .await?;
            // A search's first page is a search; later pages are the same one read on.
            let first_page = !params.iter().any(|(name, _)| name == "cursor");
            if first_page && !request.query.words.is_empty() {
                super::signal(
                    app,
                    crate::domain::signal::Signal::Searched {
                        shopper,
                        query: request.query.words.join(" "),
                        results: page.total,
                    },
                );
            }
            let response = json(StatusCode::OK, &page);
            Ok(if signed_in {
                response
            } else {
                super::public(&req, response, app.config.cache_max_age)
            })
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_full_query_string_parses_into_a_search() {
        let q = parse_search(&params(&[
            ("q", "Samsnug  TV"),
            ("category", "tvs"),
            ("brand", "Samsung"),
            ("minPrice", "10000"),
            ("maxPrice", "90000"),
            ("inStock", "true"),
            ("attr.Size", "55 in"),
            ("sort", "price_asc"),
            ("limit", "5"),
        ]))
        .unwrap()
        .query;
        assert_eq!(q.words, ["samsnug", "tv"]);
        assert_eq!(q.brand.as_deref(), Some("samsung"));
        assert_eq!(q.attributes, [("size".to_owned(), "55 in".to_owned())]);
        assert_eq!(
            (q.sort, q.limit, q.in_stock_only),
            (SortOrder::PriceAsc, 5, true)
        );
    }

    #[test]
    fn sort_defaults_to_relevance_with_words_and_newest_without() {
        assert_eq!(
            parse_search(&params(&[("q", "tv")])).unwrap().query.sort,
            SortOrder::Relevance
        );
        assert_eq!(
            parse_search(&params(&[])).unwrap().query.sort,
            SortOrder::Newest
        );
    }

    #[test]
    fn bad_parameters_are_all_reported() {
        let Err(error) = parse_search(&params(&[
            ("minPrice", "-1"),
            ("inStock", "yes"),
            ("sort", "cheapest"),
        ])) else {
            panic!("accepted bad parameters");
        };
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(error.details.as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn delivery_parameters_parse_and_need_a_zip() {
        let request = parse_search(&params(&[
            ("zip", "55425"),
            ("deliverableBy", "2026-12-04"),
            ("sort", "delivery"),
            ("deliverable", "true"),
        ]))
        .unwrap();
        let ask = request.delivery.unwrap();
        assert_eq!(ask.zip.as_str(), "55425");
        assert_eq!(ask.by.map(|d| d.to_string()).as_deref(), Some("2026-12-04"));
        assert!(ask.sorted && request.deliverable_only);

        let Err(error) = parse_search(&params(&[("sort", "delivery"), ("deliverableBy", "soon")]))
        else {
            panic!("accepted a delivery sort without a zip");
        };
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(error.details.as_array().map(Vec::len), Some(2));
        assert!(parse_search(&params(&[("zip", "00000")])).is_err());
    }

    #[test]
    fn a_delivery_cursor_round_trips() {
        let cursor = DeliveryCursor {
            ring: 2,
            inner: None,
        };
        assert_eq!(
            DeliveryCursor::decode(&cursor.encode(), SortOrder::Newest),
            Ok(cursor)
        );
        assert!(DeliveryCursor::decode("x", SortOrder::Newest).is_err());
    }
}
