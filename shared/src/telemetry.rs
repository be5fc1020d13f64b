//! Structured JSON logs through `tracing`, one line per event, as CloudWatch and the local
//! gateway read them. Level from `RUST_LOG` (default `info`). Never log tokens, payment
//! tokens or full addresses: log ids.

pub use tracing_subscriber::EnvFilter;

/// Install the JSON subscriber ([`subscriber`] on stdout); call once at the top of `main`.
pub fn init() {
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = subscriber(filter, std::io::stdout).try_init();
}

/// The JSON lines every function writes, to `writer` (tests read what a request logged).
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        // Each line lists the spans it is in, outermost first, with their ids (request,
        // user, checkout, order, ...), so one request or one checkout can be followed.
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .without_time() // Lambda stamps every line itself.
        .with_writer(writer)
        .finish()
}
