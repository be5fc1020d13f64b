//! The baseline for `make bench-init`: the smallest `lambda_http` function there is, built
//! with the same profile as the real ones, so the cold-start ratio measures Aisle's own init.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
