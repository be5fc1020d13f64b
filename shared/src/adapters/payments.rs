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
//!
//! Like a real provider it keeps a ledger per idempotency key (in this process): a repeated
//! charge under one key is the same charge, a status ask about a key never charged says
//! failed, a refund never exceeds what was captured and a repeated refund key refunds once.
//! Across processes (each local Lambda is one, so the timer asks a process that never saw
//! the charge) an ask about an unknown key is answered from the token, as the table says;
//! [`TestPayments::strict`] (the tests) answers it "no such charge", as a real provider would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::domain::Money;
use crate::ports::{
    ChargeOutcome, ChargeRef, ChargeStatus, HeldCharge, Opened, Payments, StoreError,
};

/// One charge as the provider sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The payment method as the provider knows it (a token or payment method id; never card data).
    pub method: String,
    /// Minor units (cents for USD).
    pub amount: Money,
    /// Captured (money taken); false while pending or after a decline or void.
    pub captured: bool,
    /// Whether the charge was voided (never captured money kept).
    pub voided: bool,
}

/// Everything the provider did, by key: what tests check money against.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Every charge, by provider idempotency key.
    pub charges: HashMap<String, Charge>,
    /// Refunds by their own key: (the charge key they refund, amount in minor units).
    pub refunds: HashMap<String, (String, i64)>,
}

impl Ledger {
    /// Σ captured − Σ refunded, in minor units.
    pub fn net(&self) -> i64 {
        let captured: i64 = self
            .charges
            .values()
            .filter(|c| c.captured)
            .map(|c| c.amount.amount)
            .sum();
        captured - self.refunds.values().map(|(_, a)| a).sum::<i64>()
    }

    /// Σ refunded against the charge made under `key`.
    pub fn refunded(&self, key: &str) -> i64 {
        self.refunds
            .values()
            .filter(|(charge, _)| charge == key)
            .map(|(_, a)| a)
            .sum()
    }
}

/// Test-mode payments (the only provider wired today; a real one implements [`Payments`]).
#[derive(Debug, Clone, Default)]
pub struct TestPayments {
    ledger: Arc<Mutex<Ledger>>,
    /// The ledger is the whole truth: an unknown key was never charged.
    strict: bool,
    /// Refunds and voids to refuse next, as an unreachable provider would (tests).
    failing: Arc<std::sync::atomic::AtomicU32>,
}

fn reference(key: &str) -> String {
    format!("pay_test_{key}")
}

impl TestPayments {
    /// A provider whose ledger is the whole truth (one process sees every charge: tests).
    pub fn strict() -> Self {
        Self {
            strict: true,
            ..Self::default()
        }
    }

    /// Make the next `n` refunds or voids fail as if the provider could not be reached.
    pub fn fail_next_refunds(&self, n: u32) {
        self.failing.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    fn take_failure(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        match self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        {
            Ok(_) => Err(StoreError::Unavailable(
                "payment provider unreachable (injected)".into(),
            )),
            Err(_) => Ok(()),
        }
    }

    /// A copy of the ledger as it is now.
    pub fn ledger(&self) -> Ledger {
        self.ledger.lock().expect("ledger lock").clone()
    }

    fn by_token(key: &str, method: &str, check: u32) -> ChargeStatus {
        match method {
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
        }
    }
}

#[async_trait]
impl Payments for TestPayments {
    async fn open(&self, charge: &ChargeRef) -> Result<Opened, StoreError> {
        Ok(Opened::Ready {
            reference: reference(&charge.key),
        })
    }

    async fn confirm(&self, charge: &ChargeRef) -> Result<ChargeOutcome, StoreError> {
        let (key, method, amount) = (charge.key.as_str(), charge.method.as_str(), charge.amount);
        let approved = method.starts_with("tok_success");
        let captured_silently = method == "tok_timeout_capture";
        let outcome = if approved {
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
        self.ledger
            .lock()
            .expect("ledger lock")
            .charges
            .entry(key.to_owned())
            .or_insert(Charge {
                method: method.to_owned(),
                amount,
                captured: approved || captured_silently,
                voided: false,
            });
        tracing::info!(key, amount = amount.amount, currency = %amount.currency, outcome = ?outcome, "test payment charge");
        Ok(outcome)
    }

    async fn status(&self, charge: &ChargeRef, check: u32) -> Result<ChargeStatus, StoreError> {
        let (key, method) = (charge.key.as_str(), charge.method.as_str());
        let mut ledger = self.ledger.lock().expect("ledger lock");
        let Some(charge) = ledger.charges.get_mut(key) else {
            if !self.strict {
                // A process that never charged anything (another local Lambda): the token.
                return Ok(Self::by_token(key, method, check));
            }
            return Ok(ChargeStatus::Failed {
                reason: "no_such_charge".into(),
            });
        };
        if charge.voided {
            return Ok(ChargeStatus::Failed {
                reason: "voided".into(),
            });
        }
        let status = Self::by_token(key, &charge.method, check);
        if matches!(status, ChargeStatus::Captured { .. }) {
            charge.captured = true;
        }
        Ok(status)
    }

    async fn refund(
        &self,
        key: &str,
        charge: &ChargeRef,
        _reference: Option<&str>,
        amount: Money,
    ) -> Result<(), StoreError> {
        let charge_key = charge.key.as_str();
        self.take_failure()?;
        let mut ledger = self.ledger.lock().expect("ledger lock");
        if ledger.refunds.contains_key(key) {
            return Ok(());
        }
        if let Some(charge) = ledger.charges.get(charge_key) {
            let left = charge.amount.amount - ledger.refunded(charge_key);
            if !charge.captured || amount.amount > left {
                return Err(StoreError::Bug(format!(
                    "refund {key} of {} exceeds what charge {charge_key} has left ({left})",
                    amount.amount
                )));
            }
        }
        ledger
            .refunds
            .insert(key.to_owned(), (charge_key.to_owned(), amount.amount));
        tracing::info!(key, charge_key, amount = amount.amount, currency = %amount.currency, "test payment refund");
        Ok(())
    }

    async fn void(&self, charge: &ChargeRef) -> Result<(), StoreError> {
        let key = charge.key.as_str();
        self.take_failure()?;
        if let Some(charge) = self
            .ledger
            .lock()
            .expect("ledger lock")
            .charges
            .get_mut(key)
        {
            if !charge.captured {
                charge.voided = true;
            }
        }
        tracing::info!(key, "test payment void");
        Ok(())
    }

    async fn holding_since(
        &self,
        _since: crate::domain::Timestamp,
    ) -> Result<Vec<HeldCharge>, StoreError> {
        let ledger = self.ledger();
        Ok(ledger
            .charges
            .iter()
            .filter(|(_, c)| c.captured)
            .map(|(key, c)| HeldCharge {
                key: Some(key.clone()),
                reference: reference(key),
                held: c.amount.amount - ledger.refunded(key),
                created: crate::domain::Timestamp::now(),
            })
            .filter(|c| c.held > 0)
            .collect())
    }
}
