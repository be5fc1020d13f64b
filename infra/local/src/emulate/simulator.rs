//! `aisle-local warehouse <warehouseId> ...`: act as a warehouse. Sends the messages of
//! `shared/src/domain/warehouse_update.rs` with the AWS SDK to the warehouse-updates queue
//! (moto locally, or a real queue with `--queue-url` and real credentials), and lists the
//! warehouse's orders, so a person can walk an order from placed to delivered by hand.
//!
//! ```text
//! aisle-local warehouse wh-1000 orders
//! aisle-local warehouse wh-1000 receive <itemId> <units>
//! aisle-local warehouse wh-1000 adjust <itemId> <signed units> LOSS|DAMAGE|FOUND
//! aisle-local warehouse wh-1000 ship <orderId> [trackingNumber]
//! aisle-local warehouse wh-1000 deliver <orderId>
//! aisle-local warehouse wh-1000 return <orderId> <itemId> <units> [RESELLABLE|DAMAGED] [returnId]
//! ```
//!
//! `returnId` is the label's barcode (the shopper's return authorisation); a parcel without
//! one is held for the seller's review, never refunded on the warehouse's word.
//!
//! ```text
//! ```

use aisle::domain::{PageRequest, WarehouseId};
use aisle::ports::Fulfilment;
use aisle::App;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The message for a command line, or `None` for `orders`.
pub fn message(warehouse: &WarehouseId, args: &[String]) -> Result<Option<Value>> {
    let arg = |i: usize, what: &str| -> Result<&str> {
        args.get(i)
            .map(String::as_str)
            .with_context(|| format!("missing {what}"))
    };
    let number = |i: usize, what: &str| -> Result<i64> {
        arg(i, what)?
            .parse()
            .with_context(|| format!("{what} must be a number"))
    };
    let fields = match arg(0, "command")? {
        "orders" => return Ok(None),
        "receive" => {
            json!({ "type": "StockReceived", "itemId": arg(1, "itemId")?, "quantity": number(2, "units")? })
        }
        "adjust" => {
            json!({ "type": "StockAdjusted", "itemId": arg(1, "itemId")?, "quantity": number(2, "units")?, "reason": arg(3, "reason")? })
        }
        "ship" => {
            let tracking = args.get(2).cloned().unwrap_or_else(|| {
                format!(
                    "AISLE{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase()
                )
            });
            json!({ "type": "WarehouseOrderShipped", "orderId": arg(1, "orderId")?, "trackingNumber": tracking })
        }
        "deliver" => json!({ "type": "WarehouseOrderDelivered", "orderId": arg(1, "orderId")? }),
        "return" => {
            let mut fields = json!({
                "type": "ReturnReceived", "orderId": arg(1, "orderId")?,
                "lines": [{ "itemId": arg(2, "itemId")?, "quantity": number(3, "units")? }],
                "condition": args.get(4).map(String::as_str).unwrap_or("RESELLABLE"),
            });
            if let Some(label) = args.get(5) {
                fields["returnId"] = label.as_str().into();
            }
            fields
        }
        other => bail!(
            "unknown warehouse command {other:?} (orders, receive, adjust, ship, deliver, return)"
        ),
    };
    let mut body = json!({ "version": 1, "eventId": uuid::Uuid::new_v4().to_string(), "warehouseId": warehouse.as_str() });
    body.as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("object").clone());
    Ok(Some(body))
}

/// Run one simulator command.
pub async fn run(
    app: &App,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    warehouse: &str,
    args: &[String],
) -> Result<()> {
    let warehouse = WarehouseId::try_from(warehouse).map_err(anyhow::Error::msg)?;
    match message(&warehouse, args)? {
        None => {
            let page = PageRequest {
                limit: 50,
                cursor: None,
            };
            let orders = app.fulfilment.shipments_of(&warehouse, &page).await?;
            for wo in orders.items {
                let lines: Vec<String> = wo
                    .lines
                    .iter()
                    .map(|l| format!("{}×{}", l.quantity.get(), l.item_id))
                    .collect();
                println!(
                    "{}  {:?}  {}  eta {}{}",
                    wo.order_id,
                    wo.state,
                    lines.join(", "),
                    wo.eta,
                    wo.flag.map(|f| format!("  [{f}]")).unwrap_or_default()
                );
            }
        }
        Some(body) => {
            let sent = sqs
                .send_message()
                .queue_url(queue_url)
                .message_body(body.to_string())
                .send()
                .await?;
            println!("{body}");
            eprintln!(
                "[aisle-local] sent to {queue_url} as message {}",
                sent.message_id.unwrap_or_default()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle::domain::warehouse_update::WarehouseMessage;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn every_command_builds_a_message_the_consumer_accepts() {
        let wh = WarehouseId::try_from("wh-1000").unwrap();
        let (item, order) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        for line in [
            format!("receive {item} 5"),
            format!("adjust {item} -2 LOSS"),
            format!("ship {order}"),
            format!("deliver {order}"),
            format!("return {order} {item} 1 DAMAGED"),
        ] {
            let body = message(&wh, &args(&line)).unwrap().unwrap();
            assert!(
                WarehouseMessage::parse(&body.to_string()).is_ok(),
                "{line}: {body}"
            );
        }
        assert!(message(&wh, &args("orders")).unwrap().is_none());
        assert!(message(&wh, &args("teleport")).is_err());
    }
}
