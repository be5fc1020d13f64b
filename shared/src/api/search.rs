//! `GET /v1/items` (public): search and browse the catalogue.
//!
//! Query parameters: `q` (words, typos forgiven), `category`, `brand`, `minPrice`/`maxPrice`
//! (minor units, inclusive), `inStock=true`, `attr.<name>=<value>` (any number of names),
//! `sort=relevance|price_asc|price_desc|newest` (default: relevance with `q`, newest
//! without), `limit` (1-100, default 20), `cursor` (from the previous page).

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};

use super::{finish, json, ApiError, HttpResult};
use crate::domain::search::{words, MAX_QUERY_CHARS, MAX_QUERY_WORDS};
use crate::domain::{
    Category, FieldError, PageRequest, SearchCursor, SearchQuery, SortOrder, ValidationErrors,
};
use crate::usecases::search;
use crate::App;

/// The most `attr.*` filters one search may carry.
const MAX_ATTRIBUTE_FILTERS: usize = 10;

/// Parse the query string into a search, reporting every bad parameter at once.
pub fn parse_search(params: &[(String, String)]) -> Result<SearchQuery, ApiError> {
    let mut errors = ValidationErrors::default();
    let mut query = SearchQuery::all();
    let mut sort = None;
    let mut cursor = None;
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
            "sort" => sort = errors.check("sort", SortOrder::try_from(value.as_str())),
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
                            "unknown query parameter '{other}'; allowed: q, category, brand, minPrice, maxPrice, inStock, attr.<name>, sort, limit, cursor"
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
    if let Some(raw) = cursor {
        query.after = errors.check("cursor", SearchCursor::decode(&raw, query.sort));
    }
    if errors.0.is_empty() {
        Ok(query)
    } else {
        Err(ApiError::invalid_query(errors))
    }
}

/// `GET /v1/items` (public)
pub async fn search_items(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let params: Vec<(String, String)> = req
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
            let query = parse_search(&params)?;
            let page = search::search(
                app.search.index()?,
                &app.inventory,
                &app.search_cache,
                &query,
            )
            .await?;
            Ok(super::public(
                &req,
                json(StatusCode::OK, &page),
                app.config.cache_max_age,
            ))
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
        .unwrap();
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
            parse_search(&params(&[("q", "tv")])).unwrap().sort,
            SortOrder::Relevance
        );
        assert_eq!(parse_search(&params(&[])).unwrap().sort, SortOrder::Newest);
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
}
