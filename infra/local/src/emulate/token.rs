//! Dev tokens for the local gateway's JWT authorizer emulation: HS256 JWTs signed with a
//! local secret (`AISLE_DEV_JWT_SECRET`, or a fixed development default), shaped exactly as
//! Cognito shapes each kind it issues
//! (<https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-with-identity-providers.html>):
//! - [`Kind::Id`]: a user's ID token: `aud` (the app client), `token_use: id`,
//!   `cognito:username`, `cognito:groups`, `email`; no `scope`, no `client_id`;
//! - [`Kind::Access`]: a user's access token: `client_id`, `token_use: access`, `username`,
//!   `cognito:groups`, `scope: aws.cognito.signin.user.admin`; no `aud`;
//! - [`Kind::Client`]: an app client's access token from the OAuth 2.0 client-credentials
//!   grant: `sub` = `client_id`, `token_use: access`, `scope` (the resource server's scopes it
//!   asked for) and nothing of a user (no `username`, no groups, no custom attributes).
//!
//! [`verify`] applies API Gateway's JWT authorizer rules
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>):
//! `exp` after now, `nbf` and `iat` (when present) not after now, `iss` the configured issuer,
//! and `aud` (ID tokens) or, when there is no `aud`, `client_id` (access tokens) one of the
//! configured audiences: the people's client [`AUDIENCE`], and warehouse clients, whose ids
//! local onboarding makes as [`warehouse_client`] (in AWS, onboarding adds each client id to
//! the authorizer's audience: `WarehouseClientIds`). [`has_scope`] is the route's scope check.
//! Local use only: in AWS, API Gateway verifies real Cognito tokens.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const DEFAULT_SECRET: &str = "aisle-local-development-only";
/// The issuer the local authorizer accepts (Cognito's user-pool URL in AWS).
pub const ISSUER: &str = "aisle-local";
/// The audience the local authorizer accepts (the user-pool app client id in AWS).
pub const AUDIENCE: &str = "aisle-local-client";
/// Local warehouse app clients' ids start so (`aisle-local-wh-<warehouseId>`).
const WAREHOUSE_CLIENT_PREFIX: &str = "aisle-local-wh-";

/// Which token Cognito would have issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user's ID token.
    Id,
    /// A user's access token.
    Access,
    /// An app client's access token (client-credentials grant).
    Client,
}

impl Kind {
    /// `id`, `access` or `client`, as `aisle-local token --kind` takes it.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "id" => Some(Self::Id),
            "access" => Some(Self::Access),
            "client" => Some(Self::Client),
            _ => None,
        }
    }
}

/// The local app client id of `warehouse`'s system (what onboarding binds to it).
pub fn warehouse_client(warehouse: &str) -> String {
    format!("{WAREHOUSE_CLIENT_PREFIX}{warehouse}")
}

fn secret() -> Vec<u8> {
    std::env::var("AISLE_DEV_JWT_SECRET")
        .unwrap_or_else(|_| DEFAULT_SECRET.into())
        .into_bytes()
}

fn sign(data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Mint a token of `kind` valid for `ttl_seconds`. For people (`Id`, `Access`) `subject` is
/// the user and `groups` their Cognito groups; for `Client` it is the app client id and
/// `groups` are the OAuth scopes it was granted (`aisle/warehouse`).
pub fn mint(kind: Kind, subject: &str, groups: &[String], ttl_seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let jti = uuid::Uuid::new_v4().to_string();
    let mut claims = json!({ "sub": subject, "iss": ISSUER, "iat": now, "auth_time": now, "exp": now + ttl_seconds, "jti": jti });
    match kind {
        Kind::Id => {
            claims["aud"] = json!(AUDIENCE);
            claims["token_use"] = json!("id");
            claims["cognito:username"] = json!(subject);
            claims["email"] = json!(format!("{subject}@example.com"));
            claims["email_verified"] = json!(true);
        }
        Kind::Access => {
            claims["client_id"] = json!(AUDIENCE);
            claims["token_use"] = json!("access");
            claims["username"] = json!(subject);
            claims["scope"] = json!("aws.cognito.signin.user.admin");
        }
        Kind::Client => {
            claims["client_id"] = json!(subject);
            claims["token_use"] = json!("access");
            claims["scope"] = json!(groups.join(" "));
            claims["version"] = json!(2);
        }
    }
    if kind != Kind::Client && !groups.is_empty() {
        claims["cognito:groups"] = json!(groups);
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = URL_SAFE_NO_PAD.encode(sign(&format!("{header}.{payload}")));
    format!("{header}.{payload}.{signature}")
}

/// Whether verified `claims` satisfy a route's authorization `scopes`: any token when the
/// route names none, else a token whose space-separated `scope` holds one of them.
pub fn has_scope(claims: Option<&BTreeMap<String, String>>, scopes: &[String]) -> bool {
    if scopes.is_empty() {
        return true;
    }
    let held = claims
        .and_then(|c| c.get("scope"))
        .map(String::as_str)
        .unwrap_or_default();
    held.split(' ').any(|s| scopes.iter().any(|want| want == s))
}

/// Verify a token; the claims as API Gateway's JWT authorizer passes them on (strings, with
/// arrays flattened to `[a b]`), or `None` if the signature, shape or expiry is wrong.
pub fn verify(token: &str) -> Option<BTreeMap<String, String>> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let expected = sign(&format!("{header}.{payload}"));
    let given = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret()).ok()?;
    mac.update(format!("{header}.{payload}").as_bytes());
    if mac.verify_slice(&given).is_err() || expected.len() != given.len() {
        return None;
    }
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    if !acceptable(&claims, now) {
        return None;
    }
    Some(
        claims
            .into_iter()
            .map(|(k, v)| {
                let flat = match v {
                    Value::String(s) => s,
                    Value::Array(list) => {
                        format!(
                            "[{}]",
                            list.iter()
                                .map(|x| x
                                    .as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| x.to_string()))
                                .collect::<Vec<_>>()
                                .join(" ")
                        )
                    }
                    other => other.to_string(),
                };
                (k, flat)
            })
            .collect(),
    )
}

/// API Gateway's checks on a verified token's claims at `now` (seconds).
fn acceptable(claims: &serde_json::Map<String, Value>, now: u64) -> bool {
    let time = |name: &str| claims.get(name).map(Value::as_u64);
    let exp_ok = matches!(time("exp"), Some(Some(exp)) if exp > now);
    let not_before = |name: &str| match time(name) {
        None => true,
        Some(Some(t)) => t <= now,
        Some(None) => false, // present but not a number
    };
    let issuer_ok = claims.get("iss").and_then(Value::as_str) == Some(ISSUER);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        Some(_) => false,
        None => claims
            .get("client_id")
            .and_then(Value::as_str)
            .is_some_and(|c| c == AUDIENCE || c.starts_with(WAREHOUSE_CLIENT_PREFIX)),
    };
    exp_ok && not_before("nbf") && not_before("iat") && issuer_ok && audience_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_verifies_and_a_tampered_or_expired_one_does_not() {
        let token = mint(Kind::Access, "u-1", &["sellers".into()], 60);
        let claims = verify(&token).unwrap();
        assert_eq!(claims["sub"], "u-1");
        assert_eq!(claims["cognito:groups"], "[sellers]");
        let mut forged = token.clone();
        forged.replace_range(token.len() - 3.., "AAA");
        assert!(verify(&forged).is_none());
        assert!(
            verify(&mint(Kind::Access, "u-1", &[], 0)).is_none(),
            "expired"
        );
        assert!(verify("not.a.jwt").is_none());
    }

    #[test]
    fn each_kind_has_the_claims_cognito_gives_it_and_only_those() {
        let id = verify(&mint(Kind::Id, "u-1", &["sellers".into()], 60)).unwrap();
        assert_eq!(
            (id["token_use"].as_str(), id["aud"].as_str()),
            ("id", AUDIENCE)
        );
        assert!(!id.contains_key("client_id") && !id.contains_key("scope"));
        let access = verify(&mint(Kind::Access, "u-1", &["sellers".into()], 60)).unwrap();
        assert_eq!(access["token_use"], "access");
        assert_eq!(access["username"], "u-1");
        assert!(!access.contains_key("aud"));
        let client = warehouse_client("wh-1000");
        let machine = verify(&mint(
            Kind::Client,
            &client,
            &["aisle/warehouse".into()],
            60,
        ))
        .unwrap();
        assert_eq!(
            (machine["sub"].as_str(), machine["client_id"].as_str()),
            (client.as_str(), client.as_str())
        );
        assert_eq!(machine["scope"], "aisle/warehouse");
        for absent in [
            "username",
            "cognito:groups",
            "custom:warehouseId",
            "aud",
            "email",
        ] {
            assert!(!machine.contains_key(absent), "{absent}");
        }
        let scopes = ["aisle/warehouse".to_owned()];
        assert!(has_scope(Some(&machine), &scopes));
        assert!(
            !has_scope(Some(&access), &scopes),
            "a user's token lacks the scope"
        );
        assert!(!has_scope(Some(&id), &scopes));
        assert!(
            has_scope(Some(&id), &[]),
            "routes without scopes take any token"
        );
        let stranger = mint(
            Kind::Client,
            "some-other-client",
            &["aisle/warehouse".into()],
            60,
        );
        assert!(
            verify(&stranger).is_none(),
            "a client not in the audience is refused"
        );
    }

    fn claims(extra: Value) -> serde_json::Map<String, Value> {
        let mut c = json!({ "sub": "u", "exp": 2000, "iss": ISSUER, "client_id": AUDIENCE });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c.as_object().unwrap().clone()
    }

    #[test]
    fn the_authorizer_rules_of_api_gateway_hold() {
        let now = 1000;
        assert!(acceptable(&claims(json!({})), now));
        assert!(
            !acceptable(&claims(json!({ "nbf": 1001 })), now),
            "not yet valid"
        );
        assert!(
            !acceptable(&claims(json!({ "iat": 1001 })), now),
            "issued in the future"
        );
        assert!(acceptable(&claims(json!({ "nbf": 1000, "iat": 999 })), now));
        assert!(
            !acceptable(&claims(json!({ "exp": 1000 })), now),
            "expired at now"
        );
        assert!(!acceptable(&claims(json!({ "exp": null })), now), "no exp");
        assert!(!acceptable(&claims(json!({ "iss": "someone-else" })), now));
        assert!(!acceptable(&claims(json!({ "client_id": "other" })), now));
        assert!(
            acceptable(&claims(json!({ "aud": AUDIENCE, "client_id": null })), now),
            "an ID token"
        );
        assert!(
            !acceptable(&claims(json!({ "aud": "other" })), now),
            "with aud present, client_id is not consulted"
        );
    }
}
