//! Order mail as the shopper reads it: a subject, a plain-text part and an HTML part for each
//! [`MessageKind`], with money in the order's currency. Everything a seller or shopper typed
//! (item names, reasons) is escaped in the HTML part.

use super::notification::{Mail, MessageKind};
use super::{Currency, Money, Order};

/// What a message says beyond the order itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// Tracking numbers, one per parcel (shipped).
    pub tracking: Vec<String>,
    /// What was refunded (cancelled, line cancelled, refunds).
    pub refund: Option<Money>,
    /// The line concerned (line cancelled): its name and units.
    pub line: Option<(String, u32)>,
    /// The return authorisation's id (the label's barcode) and where the parcel goes.
    pub return_label: Option<(String, String)>,
}

/// Money as a shopper reads it: the currency's symbol and its minor units placed
/// (`$1,299.99`, `¥1,300`, `€19.99`); always the order's own currency.
pub fn money(amount: Money) -> String {
    let (symbol, decimals) = match amount.currency {
        Currency::Usd => ("$", 2),
        Currency::Cad => ("CA$", 2),
        Currency::Eur => ("€", 2),
        Currency::Gbp => ("£", 2),
        Currency::Jpy => ("¥", 0),
        Currency::Mxn => ("MX$", 2),
    };
    let sign = if amount.amount < 0 { "-" } else { "" };
    let minor = amount.amount.unsigned_abs();
    let scale = 10u64.pow(decimals);
    let whole = (minor / scale).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if decimals == 0 {
        format!("{sign}{symbol}{grouped}")
    } else {
        format!(
            "{sign}{symbol}{grouped}.{:0width$}",
            minor % scale,
            width = decimals as usize
        )
    }
}

/// Text made safe for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The mail of `kind` about `order`; `store` is the storefront's address (links).
pub fn render(kind: MessageKind, order: &Order, extras: &Extras, store: &str) -> Mail {
    let short = &order.order_id.to_string()[..8];
    let link = format!("{}/#/order/{}", store.trim_end_matches('/'), order.order_id);
    let lines: Vec<(String, String)> = order
        .lines
        .iter()
        .map(|l| {
            let each = l.unit_price;
            let cost = Money {
                amount: each.amount.saturating_mul(i64::from(l.quantity.get())),
                currency: each.currency,
            };
            (format!("{} × {}", l.quantity.get(), l.name), money(cost))
        })
        .collect();
    let refund = extras.refund.map(money);
    let (subject, paragraphs): (String, Vec<String>) = match kind {
        MessageKind::OrderPlaced => (
            format!("Your Aisle order {short} is placed"),
            vec![
                format!("Thank you. We have your order and your payment of {}.", money(order.total)),
                match order.eta {
                    Some(eta) => format!("It should arrive by {}.", eta.date()),
                    None => "We will tell you when it ships.".into(),
                },
            ],
        ),
        MessageKind::OrderShipped => (
            format!("Your Aisle order {short} has shipped"),
            vec![
                "Every parcel is on its way.".into(),
                format!("Tracking: {}.", if extras.tracking.is_empty() { "none given".into() } else { extras.tracking.join(", ") }),
            ],
        ),
        MessageKind::OrderDelivered => (
            format!("Your Aisle order {short} was delivered"),
            vec!["Every parcel has arrived. You may return what you do not keep from the order's page.".into()],
        ),
        MessageKind::OrderCancelled => (
            format!("Your Aisle order {short} is cancelled"),
            vec![format!(
                "It is cancelled and {} is refunded to your card.",
                refund.clone().unwrap_or_else(|| money(order.total))
            )],
        ),
        MessageKind::LineCancelled => {
            let (name, units) = extras.line.clone().unwrap_or_default();
            (
                format!("Part of your Aisle order {short} is cancelled"),
                vec![format!(
                    "{units} × {name} is cancelled; {} is refunded to your card. The rest of the order goes ahead.",
                    refund.clone().unwrap_or_default()
                )],
            )
        }
        MessageKind::ReturnAuthorised => {
            let (barcode, to) = extras.return_label.clone().unwrap_or_default();
            (
                format!("Your return for Aisle order {short}"),
                vec![
                    format!("Your return is authorised. Put label {barcode} on the parcel and send it to warehouse {to}."),
                    "We refund each unit when it arrives.".into(),
                ],
            )
        }
        MessageKind::RefundIssued => (
            format!("A refund for your Aisle order {short}"),
            vec![format!(
                "Your returned units arrived: {} is refunded to your card.",
                refund.clone().unwrap_or_default()
            )],
        ),
        MessageKind::PaymentFailed => (
            format!("The payment for your Aisle order {short} failed"),
            vec!["Your card was not charged and the order will not ship. You can order again from your cart.".into()],
        ),
        // Not an order message: written by [`render_back_in_stock`]; this is only what an
        // order's page would say if asked.
        MessageKind::BackInStock => (
            format!("About your Aisle order {short}"),
            vec!["An item you asked about is back in stock.".into()],
        ),
        MessageKind::OrderRejected => (
            format!("Your Aisle order {short} could not be completed"),
            vec![format!(
                "Your payment arrived after your items' hold had ended, so the order could not be completed. The full {} is refunded to your card.",
                money(order.total)
            )],
        ),
    };
    compose(Compose {
        subject,
        paragraphs,
        lines,
        total: Some(money(order.total)),
        link: ("Your order", link),
        footer: None,
    })
}

/// The parts of one mail, before they are written as text and HTML.
struct Compose {
    subject: String,
    paragraphs: Vec<String>,
    /// Rows of a table: what, and its cost.
    lines: Vec<(String, String)>,
    /// The table's total row.
    total: Option<String>,
    /// The one link: its words and where it goes.
    link: (&'static str, String),
    /// A last line with a link (why the shopper gets it and how to stop it).
    footer: Option<(String, String)>,
}

/// One mail's text and HTML parts from its [`Compose`]: the same words in both.
fn compose(c: Compose) -> Mail {
    let mut text = String::new();
    for p in &c.paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    for (what, cost) in &c.lines {
        text.push_str(&format!("  {what}  {cost}\n"));
    }
    if let Some(total) = &c.total {
        text.push_str(&format!("  Total  {total}\n\n"));
    }
    text.push_str(&format!("{}: {}\n\n", c.link.0, c.link.1));
    if let Some((words, url)) = &c.footer {
        text.push_str(&format!("{words}: {url}\n\n"));
    }
    text.push_str("Aisle\n");
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body style=\"font-family:sans-serif;max-width:36em\">",
        escape(&c.subject)
    );
    for p in &c.paragraphs {
        html.push_str(&format!("<p>{}</p>", escape(p)));
    }
    if !c.lines.is_empty() || c.total.is_some() {
        html.push_str("<table role=\"presentation\">");
        for (what, cost) in &c.lines {
            html.push_str(&format!(
                "<tr><td>{}</td><td style=\"text-align:right\">{}</td></tr>",
                escape(what),
                escape(cost)
            ));
        }
        if let Some(total) = &c.total {
            html.push_str(&format!(
                "<tr><th scope=\"row\" style=\"text-align:left\">Total</th><td style=\"text-align:right\">{}</td></tr>",
                escape(total)
            ));
        }
        html.push_str("</table>");
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>",
        escape(&c.link.1),
        c.link.0
    ));
    if let Some((words, url)) = &c.footer {
        html.push_str(&format!(
            "<p style=\"font-size:small\"><a href=\"{}\">{}</a></p>",
            escape(url),
            escape(words)
        ));
    }
    html.push_str("<p>Aisle</p></body></html>");
    Mail {
        subject: c.subject,
        text,
        html,
    }
}

/// The back-in-stock mail: `name` at `price` is on sale again. `store` is the storefront's
/// address; `unsubscribe_page` the storefront page that turns this kind of mail off (the
/// one-click header's URL is the API's, [`crate::ports::Unsubscribe`]).
pub fn render_back_in_stock(
    name: &str,
    item_id: crate::domain::ItemId,
    price: Money,
    store: &str,
    unsubscribe_page: &str,
) -> Mail {
    let link = format!("{}/#/item/{item_id}", store.trim_end_matches('/'));
    compose(Compose {
        subject: format!("Back in stock: {name}"),
        paragraphs: vec![
            format!("{name} is on sale again at {}.", money(price)),
            "You asked us to tell you once; this was that message. Stock is not held for you, so it may sell out again.".into(),
        ],
        lines: vec![],
        total: None,
        link: ("See the item", link),
        footer: Some((
            "You get this because you asked to be told when it was back. Stop back-in-stock mail".into(),
            unsubscribe_page.to_owned(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money_of(amount: i64, currency: Currency) -> Money {
        Money { amount, currency }
    }

    #[test]
    fn money_reads_in_its_own_currency() {
        assert_eq!(money(money_of(129_999, Currency::Usd)), "$1,299.99");
        assert_eq!(money(money_of(5, Currency::Eur)), "€0.05");
        assert_eq!(money(money_of(1_300, Currency::Jpy)), "¥1,300");
        assert_eq!(money(money_of(100_000_000, Currency::Gbp)), "£1,000,000.00");
        assert_eq!(money(money_of(-250, Currency::Cad)), "-CA$2.50");
    }

    #[test]
    fn back_in_stock_mail_names_the_item_its_price_and_how_to_stop_it() {
        let mail = render_back_in_stock(
            "Tea <pot>",
            crate::domain::ItemId::derived_from("x"),
            money_of(1_999, Currency::Usd),
            "https://shop.test/",
            "https://shop.test/#/unsubscribe?token=t",
        );
        assert_eq!(mail.subject, "Back in stock: Tea <pot>");
        assert!(mail.text.contains("$19.99"), "{}", mail.text);
        assert!(mail
            .text
            .contains("https://shop.test/#/unsubscribe?token=t"));
        assert!(mail.html.contains("Tea &lt;pot&gt;"), "{}", mail.html);
        assert!(!mail.html.contains("<pot>"));
    }

    #[test]
    fn what_people_typed_is_escaped_in_html() {
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
