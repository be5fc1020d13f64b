//! Dev tokens for the local gateway's JWT authorizer emulation: HS256 JWTs signed with a
//! local secret (`AISLE_DEV_JWT_SECRET`, or a fixed development default). They carry what a
//! Cognito token carries for Aisle: `sub`, `cognito:groups`, `custom:warehouseId`, `exp`.
//! Local use only: in AWS, API Gateway verifies real Cognito tokens.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const DEFAULT_SECRET: &str = "aisle-local-development-only";

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
    let mut claims = json!({ "sub": user, "iat": now, "exp": now + ttl_seconds, "iss": "aisle-local", "token_use": "access" });
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
    if claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_none_or(|exp| exp <= now)
    {
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
}
