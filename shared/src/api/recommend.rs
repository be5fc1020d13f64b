//! Recommendations and suggestions:
//!
//! - `GET /v1/recommendations` (public, cacheable): popular now and most wishlisted;
//!   `window=hour|day` (default `day`), `category`, `limit` (1-20, default 10).
//! - `GET /v1/items/{itemId}/related` (public, cacheable): customers who bought this also
//!   bought; `limit`.
//! - `GET /v1/me/recommendations` (signed in, private): for you; `limit`.
//! - `GET /v1/items/suggest?q=` (public, cacheable): completions of what was typed; `limit`
//!   (1-10, default 8).

use std::collections::HashMap;

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::request::{path, person, query};
use super::{finish, json, ApiError, HttpResult};
use crate::domain::signal::Window;
use crate::domain::suggest::{Suggestion, Typed, MAX_SUGGESTIONS};
use crate::domain::{Category, FieldError, ItemId, ValidationErrors};
use crate::usecases::recommend::{rank, suggest};
use crate::App;

/// Default list length.
const DEFAULT_LIMIT: usize = 10;

/// `limit` in `1..=max`, else `default`.
fn limit(
    params: &HashMap<String, String>,
    max: usize,
    default: usize,
    errors: &mut ValidationErrors,
) -> usize {
    match params.get("limit") {
        None => default,
        Some(raw) => {
            let parsed = raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("must be a whole number 1-{max}"));
            errors.check("limit", parsed).unwrap_or(default)
        }
    }
}

/// `limit` of a list route whose only parameter it is.
fn only_limit(req: &Request) -> Result<usize, ApiError> {
    let params = query(req, &["limit"])?;
    let mut errors = ValidationErrors::default();
    let limit = limit(&params, rank::MAX_LIST, DEFAULT_LIMIT, &mut errors);
    if errors.0.is_empty() {
        Ok(limit)
    } else {
        Err(ApiError::invalid_query(errors))
    }
}

/// `GET /v1/recommendations` (public)
pub async fn get_recommendations(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let params = query(&req, &["window", "category", "limit"])?;
            let mut errors = ValidationErrors::default();
            let window = match params.get("window") {
                None => Window::Day,
                Some(raw) => errors
                    .check("window", Window::parse(raw))
                    .unwrap_or(Window::Day),
            };
            let category = params
                .get("category")
                .and_then(|raw| errors.check("category", Category::try_from(raw.clone())));
            let limit = limit(&params, rank::MAX_LIST, DEFAULT_LIMIT, &mut errors);
            if !errors.0.is_empty() {
                return Err(ApiError::invalid_query(errors));
            }
            let rankings = rank::rankings(
                &app.signals,
                &app.catalog,
                &app.inventory,
                window,
                category,
                limit,
                app.clock.now(),
            )
            .await?;
            Ok(super::public(
                &req,
                json(StatusCode::OK, &rankings),
                app.config.cache_max_age,
            ))
        }
        .await,
    )
}

/// `GET /v1/items/{itemId}/related` (public)
pub async fn get_related_items(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let item: ItemId = path(&req, "itemId")?;
            let limit = only_limit(&req)?;
            let related =
                rank::related(&app.signals, &app.catalog, &app.inventory, item, limit).await?;
            Ok(super::public(
                &req,
                json(StatusCode::OK, &related),
                app.config.cache_max_age,
            ))
        }
        .await,
    )
}

/// `GET /v1/me/recommendations` (signed in): the caller's own.
pub async fn get_my_recommendations(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let limit = only_limit(&req)?;
            let mine = rank::for_you(
                &app.signals,
                &app.catalog,
                &app.inventory,
                app.search.index()?,
                &who.user_id,
                limit,
                app.clock.now(),
            )
            .await?;
            Ok(json(StatusCode::OK, &mine))
        }
        .await,
    )
}

/// The answer of `GET /v1/items/suggest`.
#[derive(Debug, Serialize)]
struct Suggestions {
    /// The typed text as it was completed (normalised).
    q: String,
    /// Completions, best first.
    suggestions: Vec<Suggestion>,
}

/// Parse `q` and `limit` of a suggestion request.
pub fn parse_suggest(params: &HashMap<String, String>) -> Result<(Typed, usize), ApiError> {
    let mut errors = ValidationErrors::default();
    let typed = match params.get("q") {
        Some(raw) => errors.check("q", Typed::parse(raw)),
        None => {
            errors.0.push(FieldError::new("q", "required"));
            None
        }
    };
    let limit = limit(params, MAX_SUGGESTIONS, 8, &mut errors);
    match typed {
        Some(typed) if errors.0.is_empty() => Ok((typed, limit)),
        _ => Err(ApiError::invalid_query(errors)),
    }
}

/// `GET /v1/items/suggest?q=` (public)
pub async fn suggest_items(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let (typed, limit) = parse_suggest(&query(&req, &["q", "limit"])?)?;
            let suggestions = suggest::suggest(
                app.search.index()?,
                &app.signals,
                &app.popular_queries,
                &typed,
                limit,
                app.clock.now(),
            )
            .await?;
            let answer = Suggestions {
                q: typed.prefix,
                suggestions,
            };
            Ok(super::public(
                &req,
                json(StatusCode::OK, &answer),
                app.config.cache_max_age,
            ))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_suggestion_request_needs_text_and_a_sane_limit() {
        let (typed, limit) = parse_suggest(&params(&[("q", "Sams")])).unwrap();
        assert_eq!((typed.prefix.as_str(), limit), ("sams", 8));
        assert_eq!(
            parse_suggest(&params(&[])).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let error = parse_suggest(&params(&[("q", "  "), ("limit", "50")])).unwrap_err();
        assert_eq!(error.details.as_array().map(Vec::len), Some(2));
    }
}
