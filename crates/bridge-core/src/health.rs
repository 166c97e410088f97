//! Health checks of a workspace process: `GET /health` beside its MCP
//! endpoint, answered 200 by a healthy hub.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::transport::connect::Connector;

/// Checks one process's health route.
pub struct HealthCheck {
    client: Client<Connector, Empty<Bytes>>,
    url: Uri,
    timeout: Duration,
}

impl HealthCheck {
    /// A check of the `/health` route beside `mcp_url`
    /// (`http://127.0.0.1:8123/mcp` → `http://127.0.0.1:8123/health`),
    /// through `connector`, each allowed `timeout`. `None` when the URL is
    /// not usable.
    pub fn new(mcp_url: &str, connector: Connector, timeout: Duration) -> Option<Self> {
        let mcp: Uri = mcp_url.parse().ok()?;
        let authority = mcp.authority()?.clone();
        let url = Uri::builder()
            .scheme(mcp.scheme_str().unwrap_or("http"))
            .authority(authority)
            .path_and_query("/health")
            .build()
            .ok()?;
        Some(HealthCheck {
            client: Client::builder(TokioExecutor::new()).build(connector),
            url,
            timeout,
        })
    }

    /// One check: `Ok` on HTTP 200 within the timeout, else why not.
    pub async fn check(&self) -> Result<(), String> {
        let attempt = async {
            let response = self
                .client
                .get(self.url.clone())
                .await
                .map_err(|e| format!("GET {}: {e}", self.url))?;
            let status = response.status();
            // Drain the small body so the connection can be reused.
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("GET {}: HTTP {status}", self.url))
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("GET {}: no answer within {} ms", self.url, self.timeout.as_millis())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_url_sits_beside_the_mcp_endpoint() {
        let check = HealthCheck::new("http://127.0.0.1:8123/mcp", Connector::tcp(), Duration::from_secs(1)).unwrap();
        assert_eq!(check.url, "http://127.0.0.1:8123/health");
        assert!(HealthCheck::new("not a url", Connector::tcp(), Duration::from_secs(1)).is_none());
    }

    #[tokio::test]
    async fn a_closed_port_fails_the_check() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let check = HealthCheck::new(&format!("http://127.0.0.1:{port}/mcp"), Connector::tcp(), Duration::from_secs(2)).unwrap();
        assert!(check.check().await.is_err());
    }
}
