//! Who may speak for a warehouse: the machine identities onboarding bound to it, and nobody
//! who merely writes its id in a message.

use crate::domain::{MachineIdentity, WarehouseId};
use crate::ports::{StoreError, WarehouseIdentities};

/// A queue message whose sender is not the warehouse it names; parked with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenderMismatch {
    /// SQS named no sender this consumer can read.
    #[error("SENDER_MISMATCH: no readable SenderId ({0:?}); the message names warehouse {1}")]
    Unreadable(Option<String>, WarehouseId),
    /// The sender is bound to no warehouse.
    #[error("SENDER_MISMATCH: sender {0} is bound to no warehouse; the message names {1}")]
    Unbound(String, WarehouseId),
    /// The sender is another warehouse's identity.
    #[error("SENDER_MISMATCH: sender {0} speaks for {1}; the message names {2}")]
    Other(String, WarehouseId, WarehouseId),
}

/// Whether the sender SQS names for a message (its `SenderId` attribute,
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>)
/// is bound to `named`, the warehouse the message claims to come from.
pub async fn sender_speaks_for(
    identities: &dyn WarehouseIdentities,
    sender_id: Option<&str>,
    named: &WarehouseId,
) -> Result<Result<(), SenderMismatch>, StoreError> {
    let Some(sender) = sender_id.and_then(MachineIdentity::of_sender) else {
        return Ok(Err(SenderMismatch::Unreadable(
            sender_id.map(str::to_owned),
            named.clone(),
        )));
    };
    let shown = sender.key();
    Ok(match identities.warehouse_of(&sender).await? {
        Some(bound) if &bound == named => Ok(()),
        Some(bound) => Err(SenderMismatch::Other(shown, bound, named.clone())),
        None => Err(SenderMismatch::Unbound(shown, named.clone())),
    })
}
