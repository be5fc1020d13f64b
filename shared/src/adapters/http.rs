//! The HTTPS client every SDK client shares: the SDK's default (hyper 1, rustls on aws-lc,
//! the platform's trust store, proxy settings from the environment), built exactly as
//! `default-https-client` builds it, with one change in *when* work happens.
//!
//! The SDK loads and parses the platform's root certificates while each client is constructed
//! (`validate_base_client_config`). Measured by `make bench-init`, that was about two thirds of
//! a function's cold start (5–6 ms of 8). Here the certificates load when the first request
//! needs a connection, behind the SDK's own process-wide cache: init does only what every
//! invocation needs, and an invocation that never calls AWS (a request refused at the edge)
//! never pays for them. The first AWS call of a process pays the same load it paid at init
//! before; nothing is skipped, and TLS verification is the SDK's, unchanged.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::config_bag::ConfigBag;

/// The SDK's default HTTPS client, with its trust store loaded on first use.
pub fn https_client() -> SharedHttpClient {
    let inner = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    Deferred(inner).into_shared()
}

/// The inner client, minus the synchronous warm-up at construction.
#[derive(Debug)]
struct Deferred(SharedHttpClient);

impl HttpClient for Deferred {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        // The SDK builds a throwaway connector here only to load the trust store early;
        // the first real connection loads it instead (see the module docs).
        Ok(())
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The plain HTTPS client of the adapters that speak HTTP themselves (OpenSearch, Stripe):
/// hyper over rustls on aws-lc, the platform's roots, HTTP/1 (plain HTTP for loopback
/// stand-ins), the same TLS stack as the SDK's client.
pub type WebClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<hyper::body::Bytes>,
>;

/// A fresh [`WebClient`]; fails only when the platform's trust store cannot be read.
pub fn web_client() -> Result<WebClient, crate::ports::StoreError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| crate::ports::StoreError::Unavailable(format!("TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https),
    )
}
