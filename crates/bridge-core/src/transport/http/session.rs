//! Streamable HTTP's own session management (MCP 2025-06-18, Basic /
//! Transports / Streamable HTTP, "Session Management"): a new MCP session
//! after the server ended one with HTTP 404, set up as the first was
//! ([`Renewal`]), and the end of a session (`DELETE`).

use super::*;

impl Inner {
    /// Starts a new MCP session after the server answered 404 for `stale`:
    /// `initialize` with the parameters of the first one, then
    /// `notifications/initialized`. Does nothing when another caller
    /// already replaced `stale`.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when there is no `initialize` to repeat or the
    /// new session cannot be set up; the server's error when it refuses.
    pub(super) async fn reinitialize(&self, stale: &HeaderValue) -> Result<()> {
        let _one_at_a_time = self.reinitializing.lock().await;
        if self.session_id.read().as_ref() != Some(stale) {
            return Ok(());
        }
        let params = self.initialize.lock().clone().ok_or_else(|| {
            Error::Transport(format!("POST {}: MCP session not found (HTTP 404)", self.url))
        })?;
        let n = self.reinitializations.fetch_add(1, Ordering::Relaxed) + 1;
        let id = json!(format!("fastmcp-bridge/reinitialize/{n}"));
        let (new_session, result) = self.exchange(&id, "initialize", &params, false).await?;
        let init: Value =
            serde_json::from_str(result.get()).map_err(|e| Error::Protocol(format!("InitializeResult: {e}")))?;
        let version = match &self.renewal {
            Some(renewal) => renewal.accept(&init)?,
            None => init
                .get("protocolVersion")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Protocol("InitializeResult has no protocolVersion".into()))?,
        };
        *self.protocol_version.write() = HeaderValue::from_str(version).ok();
        *self.session_id.write() = new_session;
        let initialized = Outgoing::notification("notifications/initialized", None);
        match self.post_once(initialized.bytes().clone(), None, true, &[], None).await {
            Ok(()) => {}
            Err(PostError::Failed(e)) => return Err(e.error),
            Err(PostError::SessionGone(_)) => {
                return Err(Error::Transport(format!(
                    "POST {}: the new MCP session was not found (HTTP 404)",
                    self.url
                )))
            }
        }
        tracing::info!(url = %self.url, "MCP session ended by the server (HTTP 404); initialized a new one");
        self.restore(n).await;
        Ok(())
    }

    /// Sends the requests of [`Renewal::replay`] on the session
    /// re-initialization `n` started, one after another, with ids of their
    /// own (`fastmcp-bridge/restore/<n>/<k>`).
    pub(super) async fn restore(&self, n: u64) {
        let replay = self.renewal.as_ref().map(|r| r.replay()).unwrap_or_default();
        for (k, (method, params)) in replay.into_iter().enumerate() {
            let id = json!(format!("fastmcp-bridge/restore/{n}/{k}"));
            match self.exchange(&id, method, &params, true).await {
                Ok(_) => tracing::debug!(url = %self.url, method, %params, "restored on the new MCP session"),
                Err(e) => tracing::warn!(url = %self.url, method, %params, error = %e, "not restored on the new MCP session"),
            }
        }
    }

    /// POSTs one request of the transport's own (on the current session
    /// when `with_session`) and reads its answer: the `Mcp-Session-Id` the
    /// response carries, and the result; the server's error as an `Err`.
    pub(super) async fn exchange(
        &self,
        id: &Value,
        method: &str,
        params: &Value,
        with_session: bool,
    ) -> Result<(Option<HeaderValue>, Box<serde_json::value::RawValue>)> {
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let body = serde_json::to_vec(&message)
            .map_err(|e| Error::InvalidArgument(format!("message: {e}")))?
            .into();
        let routing = if self.sessionless.load(Ordering::Acquire) {
            vec![(HeaderName::from_static(METHOD_HEADER), headers::header_value(method))]
        } else {
            Vec::new()
        };
        let (request, _) = self.build(Method::POST, body, with_session, &routing)?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| Error::Transport(format!("POST {} ({method}): {e}", self.url)))?;
        if !response.status().is_success() {
            return Err(self.http_error(response).await);
        }
        let session = response.headers().get(SESSION_HEADER).cloned();
        let answer = self
            .read_answer(response, id, true)
            .await?
            .ok_or_else(|| Error::Protocol(format!("no answer to {method}")))?;
        Ok((session, answer.into_result()?))
    }

    pub(super) async fn close(&self) {
        self.closed.cancel();
        if self.session_id.read().is_none() {
            return;
        }
        let Ok((request, _)) = self.build(Method::DELETE, Bytes::new(), true, &[]) else {
            return;
        };
        match self.client.request(request).await {
            Ok(response) => tracing::debug!(status = %response.status(), "MCP session deleted"),
            Err(e) => tracing::debug!(error = %e, "MCP session delete failed"),
        }
    }
}
