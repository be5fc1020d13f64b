//! A loopback HTTP server that answers each request with the next recorded answer and keeps
//! what arrived: how the adapters over plain HTTPS (OpenSearch, Stripe) are tested at the
//! wire, against answers recorded from (or shaped exactly as documented by) the real service.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

/// What the server saw, per request: method, path, body, `Authorization`, `Idempotency-Key`.
pub type Seen = Arc<Mutex<Vec<(String, String, String, String, String)>>>;

/// One recorded answer: status and body; `None` closes the connection unanswered.
pub type Recorded = Option<(u16, Vec<u8>)>;

/// Serve `answers` in order on a fresh loopback port; returns its base URL and the log.
/// Past the last answer, every request gets 500.
pub async fn replay(answers: Vec<(u16, Vec<u8>)>) -> (String, Seen) {
    replay_or_drop(answers.into_iter().map(Some).collect()).await
}

/// [`replay`], where a `None` answer drops the connection (an answer lost on the way).
pub async fn replay_or_drop(answers: Vec<Recorded>) -> (String, Seen) {
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (answers, log) = (answers.clone(), log.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (answers, log) = (answers.clone(), log.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let header = |name: &str| {
                            parts
                                .headers
                                .get(name)
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default()
                        };
                        log.lock().unwrap().push((
                            parts.method.to_string(),
                            parts.uri.path().to_owned(),
                            String::from_utf8_lossy(&body).into_owned(),
                            header("authorization"),
                            header("idempotency-key"),
                        ));
                        let next = answers
                            .lock()
                            .unwrap()
                            .pop_front()
                            .unwrap_or(Some((500, b"{}".to_vec())));
                        match next {
                            Some((status, bytes)) => Ok(http::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(bytes)))
                                .unwrap()),
                            None => Err(std::io::Error::other("answer dropped")),
                        }
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen)
}
