//! Reading an API Gateway request: the caller, the JSON body, path and query parameters and
//! headers, each parsed into domain types or refused with a 4xx [`ApiError`].

use std::collections::HashMap;

use lambda_http::http::{header, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::domain::principal::WAREHOUSE_SCOPE;
use crate::domain::{MachineIdentity, PageRequest, Principal, Role, UserId, WarehouseId};
use crate::ports::WarehouseIdentities;

/// Largest request body accepted; API Gateway allows more, but nothing here needs it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API Gateway request id, to tie a request's log lines together.
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The caller, from the claims the HTTP API's JWT authorizer verified, or 401. The authorizer
/// already refused requests without a valid token; this refuses again if a route was
/// deployed without it.
///
/// Two kinds of caller, as Cognito issues their tokens
/// (<https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html>):
/// - people (shoppers, sellers): an ID or access token of a user; roles from the
///   `cognito:groups` claim, read exactly as API Gateway renders it ([`parse_groups`]);
/// - warehouse systems: an access token of the OAuth 2.0 client-credentials grant, whose
///   claims are `sub` = `client_id`, `scope` and no user at all (no `username`, no groups).
///   Its scope [`WAREHOUSE_SCOPE`] grants [`Role::Warehouse`]; *which* warehouse is not in
///   the token but bound to the client by onboarding ([`warehouse_caller`]).
pub fn principal(req: &Request) -> Result<Principal, ApiError> {
    caller(req).map(|(who, _)| who)
}

/// The caller, who must be a person (a shopper or a seller signed in to a user pool app
/// client): a warehouse system's client-credentials token gets 403 on a shopper's route
/// before anything else of the request is read, so a machine never keeps a cart or orders.
pub fn person(req: &Request) -> Result<Principal, ApiError> {
    match caller(req)? {
        (_, true) => Err(ApiError::forbidden(
            "this route is for people (shoppers and sellers), not a system's client-credentials token",
        )),
        (who, false) => Ok(who),
    }
}

/// The claims the HTTP API's JWT authorizer verified, if the request carries any.
fn jwt_claims(req: &Request) -> Option<&std::collections::HashMap<String, String>> {
    match req.request_context_ref() {
        Some(ctx @ RequestContext::ApiGatewayV2(_)) => ctx
            .authorizer()
            .and_then(|a| a.jwt.as_ref())
            .map(|j| &j.claims),
        _ => None,
    }
}

/// The caller and whether it is a machine (a client-credentials token).
fn caller(req: &Request) -> Result<(Principal, bool), ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "a valid bearer token is required",
        )
    };
    let claims = jwt_claims(req).ok_or_else(unauthorized)?;
    let user_id = claims
        .get("sub")
        .and_then(|s| UserId::try_from(s.as_str()).ok())
        .ok_or_else(unauthorized)?;
    // Every log line of this request carries who made it (see `crate::lambda::request_span`).
    tracing::Span::current().record("user_id", tracing::field::display(&user_id));
    let claim = |name: &str| claims.get(name).map(String::as_str);
    // A client-credentials token: an access token whose subject is the client itself.
    let machine = claim("token_use") == Some("access")
        && claim("username").is_none()
        && claim("client_id") == Some(user_id.as_str());
    let roles = if machine {
        let scopes = claim("scope").unwrap_or_default().split(' ');
        scopes
            .filter(|s| *s == WAREHOUSE_SCOPE)
            .map(|_| Role::Warehouse)
            .take(1)
            .collect()
    } else {
        let groups = claims
            .get("cognito:groups")
            .map(|g| parse_groups(g))
            .unwrap_or_default();
        [Role::Seller]
            .into_iter()
            .filter(|r| groups.iter().any(|g| g == r.group()))
            .collect()
    };
    Ok((
        Principal {
            user_id,
            roles,
            warehouse_id: None,
        },
        machine,
    ))
}

/// The caller's mail address as Cognito verified it: an ID token's `email` with
/// `email_verified` true. Access tokens carry none (`None`); an unverified address is never
/// used, so mail cannot be pointed at someone else's inbox.
pub fn verified_email(req: &Request) -> Option<crate::domain::EmailAddress> {
    let claims = jwt_claims(req)?;
    (claims.get("email_verified").map(String::as_str) == Some("true"))
        .then(|| claims.get("email").cloned())
        .flatten()
        .and_then(|e| crate::domain::EmailAddress::try_from(e).ok())
}

/// The caller, who must hold `role`: 403 before anything else of the request (path, query,
/// body) is read, so a caller without the role learns nothing of the route's rules.
pub fn principal_with(req: &Request, role: Role) -> Result<Principal, ApiError> {
    let who = principal(req)?;
    if !who.has(role) {
        return Err(ApiError::forbidden(format!(
            "this route is for {}",
            role.group()
        )));
    }
    Ok(who)
}

/// The warehouse system calling a `/v1/warehouses/{warehouseId}/...` route, acting for that
/// warehouse: it must hold [`Role::Warehouse`] and its client must be bound to exactly the
/// warehouse in the path, else 403, all before the body is read. The principal comes back
/// with its bound warehouse filled in.
pub async fn warehouse_caller(
    identities: &dyn WarehouseIdentities,
    req: &Request,
) -> Result<(Principal, WarehouseId), ApiError> {
    let mut who = principal_with(req, Role::Warehouse)?;
    let client = MachineIdentity::Client(who.user_id.as_str().to_owned());
    who.warehouse_id = identities.warehouse_of(&client).await?;
    let warehouse: WarehouseId = path(req, "warehouseId")?;
    if !who.acts_for(&warehouse) {
        return Err(ApiError::forbidden(
            "this client may act only for the warehouse it is bound to",
        ));
    }
    Ok((who, warehouse))
}

/// Cognito's `cognito:groups` claim as an HTTP API's JWT authorizer hands it on: the JSON
/// array flattened to `[a b]`, the names joined by single spaces. Cognito group names cannot
/// contain whitespace, so the space is the only separator; commas and brackets inside a name
/// are part of the name (a group called `x,sellers` is not `sellers`). Anything else is no
/// groups at all: a claim in another shape did not come from this authorizer.
fn parse_groups(raw: &str) -> Vec<String> {
    match raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => inner
            .split(' ')
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        None => {
            tracing::warn!("cognito:groups claim not in API Gateway's [a b] shape; no groups");
            Vec::new()
        }
    }
}

/// The API Gateway route key the request came by (`GET /v1/items`), when there is one.
pub fn route_key(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone(),
        _ => None,
    }
}

/// Parse the JSON body into `T` (whose serde derive should `deny_unknown_fields`).
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    if let Some(kind) = req.headers().get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or("").to_ascii_lowercase();
        if !kind.starts_with("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as application/json",
            ));
        }
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("bodies are limited to {MAX_BODY_BYTES} bytes"),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "EMPTY_BODY",
            "a JSON body is required",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        match e.classify() {
            serde_json::error::Category::Data if message.starts_with("unknown field") => {
                ApiError::bad_request("UNKNOWN_FIELD", message)
            }
            serde_json::error::Category::Data => ApiError::bad_request("INVALID_FIELD", message),
            _ => ApiError::bad_request("MALFORMED_JSON", message),
        }
    })
}

/// A path parameter parsed into its typed id.
pub fn path<T: TryFrom<String, Error = String>>(req: &Request, name: &str) -> Result<T, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .unwrap_or_default()
        .to_owned();
    T::try_from(raw).map_err(|message| {
        ApiError::bad_request("INVALID_PATH_PARAMETER", format!("{name}: {message}"))
            .with_details(serde_json::json!([{ "field": name, "message": message }]))
    })
}

/// The query string, refusing parameters the route does not know and repeated ones, so a
/// typo (`?categroy=`) is an error rather than silently ignored.
pub fn query(req: &Request, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let mut found = HashMap::new();
    if let Some(params) = req.query_string_parameters_ref() {
        for (name, _) in params.iter() {
            if !allowed.contains(&name) {
                return Err(ApiError::bad_request(
                    "UNKNOWN_QUERY_PARAMETER",
                    format!(
                        "unknown query parameter '{name}'; allowed: {}",
                        allowed.join(", ")
                    ),
                ));
            }
            let values = params.all(name).unwrap_or_default();
            if values.len() > 1 {
                return Err(ApiError::bad_request(
                    "REPEATED_QUERY_PARAMETER",
                    format!("'{name}' given more than once"),
                ));
            }
            found.insert(name.to_owned(), values[0].to_owned());
        }
    }
    Ok(found)
}

/// `limit` and `cursor` from a parsed query.
pub fn page(query: &HashMap<String, String>) -> Result<PageRequest, ApiError> {
    PageRequest::parse(
        query.get("limit").map(String::as_str),
        query.get("cursor").map(String::as_str),
    )
    .map_err(|message| ApiError::bad_request("INVALID_PAGE", message))
}

/// The `Idempotency-Key` header, if sent: 1-128 visible ASCII characters.
pub fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    match raw.to_str() {
        Ok(key) if (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1-128 visible ASCII characters",
        )),
    }
}

/// The version an `If-Match` header names (`"3"` or `W/"3"`), if sent.
pub fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(raw) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or("").trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    // A public item's ETag is `"<version>-<content digest>"` (it changes with availability
    // too, for caches); the version before the dash is what the write is conditioned on.
    let version = text.split_once('-').map_or(text, |(version, _)| version);
    version.parse().map(Some).map_err(|_| {
        ApiError::bad_request(
            "INVALID_IF_MATCH",
            "If-Match must be an ETag this API issued",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_exactly_as_api_gateway_renders_cognitos_array() {
        assert_eq!(
            parse_groups("[sellers warehouses]"),
            ["sellers", "warehouses"]
        );
        assert_eq!(parse_groups("[sellers]"), ["sellers"]);
        assert!(parse_groups("[]").is_empty());
    }

    #[test]
    fn a_group_whose_name_contains_a_role_name_grants_nothing() {
        assert_eq!(parse_groups("[x,sellers]"), ["x,sellers"]);
        assert_eq!(parse_groups("[[sellers]]"), ["[sellers]"]);
        assert!(
            parse_groups("sellers,warehouses").is_empty(),
            "not the authorizer's shape"
        );
        assert!(
            parse_groups(r#"["sellers"]"#) != ["sellers"],
            "JSON is not the shape either"
        );
    }
}

/// A digest of what makes a request *this* request (path ids and body), to tell a retry
/// from another request reusing its idempotency key (an `Idempotency-Key`, an event id).
pub fn fingerprint(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
