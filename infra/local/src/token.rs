//! Dev tokens for the local gateway's JWT authorizer emulation: HS256 JWTs signed with a
//! local secret (`AISLE_DEV_JWT_SECRET`, or a fixed development default). They carry what a
//! Cognito token carries for Aisle: `sub`, `cognito:groups`, `custom:warehouseId`, `exp`,
//! `iat`, `iss`, `client_id`. [`verify`] applies API Gateway's JWT authorizer rules
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>):
//! `exp` after now, `nbf` and `iat` (when present) not after now, `iss` the configured issuer,
//! and `aud` (ID tokens) or, when there is no `aud`, `client_id` (access tokens) one of the
//! configured audiences. Local use only: in AWS, API Gateway verifies real Cognito tokens.

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

/// Mint a token for `user` with `groups` (and, for warehouse users, their warehouse),
/// valid for `ttl_seconds`.
pub fn mint(user: &str, groups: &[String], warehouse: Option<&str>, ttl_seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // Shaped as a Cognito access token: `client_id`, no `aud`.
    let mut claims = json!({ "sub": user, "iat": now, "exp": now + ttl_seconds, "iss": ISSUER, "client_id": AUDIENCE, "token_use": "access" });
    if !groups.is_empty() {
        claims["cognito:groups"] = json!(groups);
    }
    if let Some(w) = warehouse {
        claims["custom:warehouseId"] = json!(w);
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = URL_SAFE_NO_PAD.encode(sign(&format!("{header}.{payload}")));
    format!("{header}.{payload}.{signature}")
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
        None => claims.get("client_id").and_then(Value::as_str) == Some(AUDIENCE),
    };
    exp_ok && not_before("nbf") && not_before("iat") && issuer_ok && audience_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_verifies_and_a_tampered_or_expired_one_does_not() {
        let token = mint("u-1", &["sellers".into()], None, 60);
        let claims = verify(&token).unwrap();
        assert_eq!(claims["sub"], "u-1");
        assert_eq!(claims["cognito:groups"], "[sellers]");
        let mut forged = token.clone();
        forged.replace_range(token.len() - 3.., "AAA");
        assert!(verify(&forged).is_none());
        assert!(verify(&mint("u-1", &[], None, 0)).is_none(), "expired");
        assert!(verify("not.a.jwt").is_none());
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
