//! The test-mode payment provider: deterministic outcomes chosen by the token, like a real
//! provider's test cards. No card data exists here; tokens are opaque strings.
//!
//! | token | charge | later status |
//! |---|---|---|
//! | `tok_success` (or any `tok_success_*`) | approved | captured |
//! | `tok_decline_<reason>` | declined with `<reason>` | failed |
//! | `tok_timeout_capture` | no response | captured at the first ask |
//! | `tok_timeout_void` | no response | failed at the first ask |
//! | `tok_late_success` | no response | unknown at the first ask, captured after |
//! | anything else | declined: `invalid_token` | failed |

use async_trait::async_trait;

use crate::domain::Money;
use crate::ports::{ChargeOutcome, ChargeStatus, Payments, StoreError};

/// Test-mode payments (the only provider wired today; a real one implements [`Payments`]).
#[derive(Debug, Clone, Default)]
pub struct TestPayments;

fn reference(key: &str) -> String {
    format!("pay_test_{key}")
}

#[async_trait]
impl Payments for TestPayments {
    async fn charge(
        &self,
        key: &str,
        method: &str,
        amount: Money,
    ) -> Result<ChargeOutcome, StoreError> {
        let outcome = if method.starts_with("tok_success") {
            ChargeOutcome::Approved {
                reference: reference(key),
            }
        } else if let Some(reason) = method.strip_prefix("tok_decline_") {
            ChargeOutcome::Declined {
                reason: reason.to_owned(),
            }
        } else if matches!(
            method,
            "tok_timeout_capture" | "tok_timeout_void" | "tok_late_success"
        ) {
            ChargeOutcome::NoResponse
        } else {
            ChargeOutcome::Declined {
                reason: "invalid_token".into(),
            }
        };
        tracing::info!(key, amount = amount.amount, currency = %amount.currency, outcome = ?outcome, "test payment charge");
        Ok(outcome)
    }

    async fn status(
        &self,
        key: &str,
        method: &str,
        check: u32,
    ) -> Result<ChargeStatus, StoreError> {
        Ok(match method {
            m if m.starts_with("tok_success") || m == "tok_timeout_capture" => {
                ChargeStatus::Captured {
                    reference: reference(key),
                }
            }
            "tok_late_success" if check == 0 => ChargeStatus::Unknown,
            "tok_late_success" => ChargeStatus::Captured {
                reference: reference(key),
            },
            _ => ChargeStatus::Failed {
                reason: "not_authorized".into(),
            },
        })
    }

    async fn refund(
        &self,
        key: &str,
        _reference: Option<&str>,
        amount: Money,
    ) -> Result<(), StoreError> {
        tracing::info!(key, amount = amount.amount, currency = %amount.currency, "test payment refund");
        Ok(())
    }

    async fn void(&self, key: &str) -> Result<(), StoreError> {
        tracing::info!(key, "test payment void");
        Ok(())
    }
}
