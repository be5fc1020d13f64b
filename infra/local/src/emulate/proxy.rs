//! A loopback HTTP/1 proxy skeleton shared by the local stand-in proxies (the IAM proxy in
//! front of DynamoDB Local and moto, the Stripe proxy in front of localstripe): accept,
//! read the whole request, let a handler answer or forward it, or drop the connection
//! (an answer lost on the way, as a network can lose it).

use std::future::Future;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The plain-HTTP client that forwards to a stand-in.
pub type Forwarder = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// A fresh forwarding client.
pub fn forwarder() -> Forwarder {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// A whole answer.
pub type Answer = hyper::Response<Full<Bytes>>;

/// Serve `handler` on `listener`: it gets each request's head and whole body and answers,
/// or returns `None` to close the connection without an answer.
pub async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(http::request::Parts, Bytes) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Option<Answer>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let handler = handler.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = match body.collect().await {
                        Ok(b) => b.to_bytes(),
                        Err(e) => return Ok(plain(502, &format!("reading the request: {e}"))),
                    };
                    match handler(parts, body).await {
                        Some(answer) => Ok::<_, Lost>(answer),
                        None => Err(Lost),
                    }
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
pub struct Lost;

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped on purpose")
    }
}

impl std::error::Error for Lost {}

/// Forward a request to `upstream` (`http://127.0.0.1:port`) as it came, headers and all,
/// and read the whole answer.
pub async fn forward(
    client: &Forwarder,
    upstream: &str,
    parts: &http::request::Parts,
    body: Bytes,
) -> Answer {
    let uri = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut request = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(uri);
    // The body may have been rewritten (see `iam::stamp_sender`): hyper sets its length.
    for (name, value) in parts
        .headers
        .iter()
        .filter(|(n, _)| *n != http::header::CONTENT_LENGTH)
    {
        request = request.header(name, value);
    }
    let Ok(request) = request.body(Full::new(body)) else {
        return plain(502, "bad request to forward");
    };
    match client.request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            hyper::Response::from_parts(parts, Full::new(body))
        }
        Err(e) => plain(502, &format!("upstream {upstream}: {e}")),
    }
}

/// A plain-text answer.
pub fn plain(status: u16, text: &str) -> Answer {
    hyper::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(text.to_owned())))
        .unwrap_or_default()
}
